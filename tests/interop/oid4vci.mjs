#!/usr/bin/env node
// An OpenID4VCI 1.0 wallet built on the OpenWallet Foundation's client library (@openid4vc/openid4vci, the
// oid4vc-ts project), not on our server code: it resolves a credential offer, the issuer and authorization
// server metadata, redeems the pre-authorized code (with a PIN), fetches a c_nonce, signs the jwt key proof
// (jose) and asks for the credential.
//
//   node oid4vci.mjs claim [--tx-code PIN] [--jwk] OFFER_LINK OUT
//       OFFER_LINK: openid-credential-offer://?credential_offer=… or …?credential_offer_uri=…
//       the holder is a fresh Ed25519 did:key (kid header); --jwk: a fresh P-256 key sent as a jwk header (ES256)
//       writes the credential to OUT; prints {holder, credential_issuer, configuration, token_type}
import {webcrypto} from 'node:crypto';
import {writeFileSync} from 'node:fs';

import {HashAlgorithm, clientAuthenticationAnonymous, setGlobalConfig} from '@openid4vc/oauth2';
import {Openid4vciClient} from '@openid4vc/openid4vci';
import * as base58 from 'base58-universal';
import {SignJWT, exportJWK, generateKeyPair} from 'jose';

const ED25519_MULTICODEC = [0xed, 0x01];
const HASHES = {
  [HashAlgorithm.Sha256]: 'SHA-256', [HashAlgorithm.Sha384]: 'SHA-384', [HashAlgorithm.Sha512]: 'SHA-512'
};

async function holderKey(useJwk) {
  if(useJwk) {
    const {privateKey, publicKey} = await generateKeyPair('ES256', {extractable: true});
    const {kty, crv, x, y} = await exportJWK(publicKey);
    const publicJwk = {kty, crv, x, y};
    // The DID the issuer binds a jwk to: did:jwk of the key's required members in RFC 7638 order.
    const holder = 'did:jwk:' + Buffer.from(JSON.stringify({crv, kty, x, y})).toString('base64url');
    return {privateKey, publicJwk, holder, signer: {method: 'jwk', publicJwk, alg: 'ES256'}};
  }
  const {privateKey, publicKey} = await generateKeyPair('EdDSA', {crv: 'Ed25519', extractable: true});
  const publicJwk = await exportJWK(publicKey);
  const raw = Buffer.from(publicJwk.x, 'base64url');
  const multibase = 'z' + base58.encode(Uint8Array.from([...ED25519_MULTICODEC, ...raw]));
  const holder = `did:key:${multibase}`;
  return {privateKey, publicJwk, holder, signer: {method: 'did', didUrl: `${holder}#${multibase}`, alg: 'EdDSA'}};
}

async function claim(link, out, {txCode, jwk}) {
  setGlobalConfig({allowInsecureUrls: true}); // the test issuer is served over http on 127.0.0.1
  const key = await holderKey(jwk);
  const client = new Openid4vciClient({
    callbacks: {
      fetch,
      hash: async (data, alg) => new Uint8Array(await webcrypto.subtle.digest(HASHES[alg], data)),
      generateRandom: length => webcrypto.getRandomValues(new Uint8Array(length)),
      clientAuthentication: clientAuthenticationAnonymous(),
      signJwt: async (_signer, {header, payload}) => ({
        jwt: await new SignJWT(payload).setProtectedHeader(header).sign(key.privateKey),
        signerJwk: key.publicJwk
      })
    }
  });
  const credentialOffer = await client.resolveCredentialOffer(link);
  const issuerMetadata = await client.resolveIssuerMetadata(credentialOffer.credential_issuer);
  const [credentialConfigurationId] = credentialOffer.credential_configuration_ids;
  const {accessTokenResponse} = await client.retrievePreAuthorizedCodeAccessTokenFromOffer({
    credentialOffer, issuerMetadata, txCode
  });
  const {c_nonce: nonce} = await client.requestNonce({issuerMetadata});
  const {jwt} = await client.createCredentialRequestJwtProof({
    issuerMetadata, credentialConfigurationId, nonce, signer: key.signer
  });
  const {credentialResponse} = await client.retrieveCredentials({
    issuerMetadata,
    accessToken: accessTokenResponse.access_token,
    credentialConfigurationId,
    proofs: {jwt: [jwt]}
  });
  const [{credential}] = credentialResponse.credentials;
  writeFileSync(out, JSON.stringify(credential, null, 2));
  console.log(JSON.stringify({
    holder: key.holder,
    credential_issuer: credentialOffer.credential_issuer,
    configuration: credentialConfigurationId,
    token_type: accessTokenResponse.token_type
  }));
}

const args = process.argv.slice(2);
const options = {jwk: false, txCode: undefined};
const positional = [];
for(let i = 1; i < args.length; i++) {
  if(args[i] === '--tx-code') {
    options.txCode = args[++i];
  } else if(args[i] === '--jwk') {
    options.jwk = true;
  } else {
    positional.push(args[i]);
  }
}
if(args[0] !== 'claim' || positional.length !== 2) {
  console.error('usage: node oid4vci.mjs claim [--tx-code PIN] [--jwk] OFFER_LINK OUT');
  process.exit(2);
}
try {
  await claim(positional[0], positional[1], options);
} catch(error) {
  // The library's errors carry the server's answer: show it, it is what a failing test needs.
  console.error(error?.stack ?? error, JSON.stringify(error?.response ?? error?.errorResponse ?? null));
  process.exit(1);
}
