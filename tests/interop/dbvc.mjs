#!/usr/bin/env node
// Cross-check tool: Digital Bazaar's vc library (what the DCC Learner Credential Wallet and VerifierPlus run),
// fully offline. JSON-LD contexts come from shared/credentials/contexts (the same files the Python code
// uses); did:key is resolved locally; https/did:web key documents only from files passed with --docs.
//
//   node dbvc.mjs verify [--now ISO] [--docs docs.json] FILE...   one JSON line per file: {file, verified, error,
//                                                                  status}; status lists come from --docs too
//   node dbvc.mjs sign [--seed HEX] [--created ISO] [--suite S] [--curve C] [--pointers P,...] IN OUT
//                                                                  sign with a fresh did:key (issuer id := DID);
//                                                                  --seed: the Ed25519 key from this 32-byte seed;
//                                                                  --created: the proof's created (default now);
//                                                                  --suite: eddsa-rdfc-2022 (default), eddsa-jcs-2022,
//                                                                  ecdsa-rdfc-2019, ecdsa-jcs-2019, ecdsa-sd-2023 (a
//                                                                  base proof, --pointers: its mandatory JSON
//                                                                  pointers); --curve: P-256 (default) or P-384 for
//                                                                  the ecdsa suites (ecdsa-sd-2023: P-256 only)
//   node dbvc.mjs derive --pointers P,... IN OUT                    the holder's selective disclosure of an
//                                                                  ecdsa-sd-2023 base proof: reveal the mandatory
//                                                                  statements and these JSON pointers
//   node dbvc.mjs canon FILE...                                     one JSON line: {file, nquads, error}
//   node dbvc.mjs claim [--seed HEX] [--legacy] EXCHANGE_URL OUT    a did:key wallet: runs the VC-API exchange
//                                                                  (DID auth, eddsa-rdfc-2022 on VC 2.0; --legacy:
//                                                                  Ed25519Signature2020 on VC 1.1, as the DCC
//                                                                  Learner Credential Wallet signs) and writes the
//                                                                  credential it receives; prints {holder, request,
//                                                                  proof: the presentation's proof type}
//
// --docs points at a JSON index {URL: file name relative to the index}, like vectors/docs.json.
import {readFileSync, writeFileSync} from 'node:fs';
import {dirname, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';

import * as vc from '@digitalbazaar/vc';
import {CachedResolver} from '@digitalbazaar/did-io';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import * as EcdsaMultikey from '@digitalbazaar/ecdsa-multikey';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import {driver as didKeyDriver} from '@digitalbazaar/did-method-key';
import * as ecdsaJcs2019 from '@digitalbazaar/ecdsa-jcs-2019-cryptosuite';
import * as ecdsaSd2023 from '@digitalbazaar/ecdsa-sd-2023-cryptosuite';
import {cryptosuite as ecdsaRdfc2019} from '@digitalbazaar/ecdsa-rdfc-2019-cryptosuite';
import * as eddsaJcs2022 from '@digitalbazaar/eddsa-jcs-2022-cryptosuite';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {Ed25519Signature2020} from '@digitalbazaar/ed25519-signature-2020';
import {checkStatus as checkBitstringStatus} from '@digitalbazaar/vc-bitstring-status-list';
import jsonld from 'jsonld';

const HERE = dirname(fileURLToPath(import.meta.url));
const CONTEXT_DIR = resolve(HERE, '..', '..', 'shared', 'credentials', 'contexts');

function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

function loadContexts() {
  const index = readJson(join(CONTEXT_DIR, 'index.json'));
  return new Map(Object.entries(index).map(([url, file]) => [url, readJson(join(CONTEXT_DIR, file))]));
}

function loadDocs(indexPath) {
  if(!indexPath) {
    return new Map();
  }
  const index = readJson(indexPath);
  const base = dirname(indexPath);
  return new Map(Object.entries(index).map(([url, file]) => [url, readJson(join(base, file))]));
}

// A verification method inside a controller document, returned with the document's @context.
function methodFromDocument(doc, url) {
  const ctx = doc['@context'];
  const candidates = [].concat(doc.verificationMethod || [], doc.assertionMethod || [])
    .filter(m => typeof m === 'object');
  for(const method of candidates) {
    const id = method.id.startsWith('#') ? doc.id + method.id : method.id;
    if(id === url) {
      return {'@context': ctx, ...method, id};
    }
  }
  return null;
}

function makeDocumentLoader({docs}) {
  const contexts = loadContexts();
  const didKey = didKeyDriver();
  didKey.use({multibaseMultikeyHeader: 'z6Mk', fromMultibase: Ed25519Multikey.from});
  didKey.use({multibaseMultikeyHeader: 'zDna', fromMultibase: EcdsaMultikey.from});
  didKey.use({multibaseMultikeyHeader: 'z82L', fromMultibase: EcdsaMultikey.from});
  const didResolver = new CachedResolver();
  didResolver.use(didKey);

  return async url => {
    const wrap = document => ({contextUrl: null, documentUrl: url, document: structuredClone(document)});
    if(contexts.has(url)) {
      return wrap(contexts.get(url));
    }
    if(url.startsWith('did:key:')) {
      return wrap(await didResolver.get({url}));
    }
    if(docs.has(url)) {
      return wrap(docs.get(url));
    }
    const [base, fragment] = url.split('#');
    if(fragment !== undefined && docs.has(base)) {
      const method = methodFromDocument(docs.get(base), url);
      if(method) {
        return wrap(method);
      }
    }
    // Never fetch: an unknown URL is a test failure, not something to download.
    throw new Error(`document not available offline: ${url}`);
  };
}

// Every cryptosuite we verify too (vc tries each on a proof; the proof's cryptosuite picks one).
function makeSuite() {
  return [
    eddsaRdfc2022, ecdsaRdfc2019, eddsaJcs2022.createVerifyCryptosuite(), ecdsaJcs2019.createVerifyCryptosuite(),
    ecdsaSd2023.createVerifyCryptosuite()
  ].map(cryptosuite => new DataIntegrityProof({cryptosuite}));
}

const SIGN_SUITES = {
  'eddsa-rdfc-2022': () => eddsaRdfc2022,
  'ecdsa-rdfc-2019': () => ecdsaRdfc2019,
  'eddsa-jcs-2022': () => eddsaJcs2022.createSignCryptosuite(),
  'ecdsa-jcs-2019': () => ecdsaJcs2019.createSignCryptosuite(),
  'ecdsa-sd-2023': ({pointers}) => ecdsaSd2023.createSignCryptosuite({mandatoryPointers: pointers || []})
};

// Bitstring Status List entries are checked with Digital Bazaar's own implementation (it verifies the status
// list credential and that its issuer is the credential's); other status types are not checked here.
async function checkStatus(options) {
  const statuses = [].concat(options.credential.credentialStatus || []);
  if(!statuses.some(s => s.type === 'BitstringStatusListEntry')) {
    return {verified: true};
  }
  return checkBitstringStatus({...options, suite: makeSuite()});
}

// vc reports whether the status could be checked; whether a bit is set is in statusResult.results[].status.
function statusWord(result) {
  const results = (result.statusResult && result.statusResult.results) || [];
  if(!results.length) {
    return null;
  }
  const set = results.find(r => r.status);
  return set ? (set.credentialStatus.statusPurpose === 'suspension' ? 'suspended' : 'revoked') : 'active';
}

function errorText(result) {
  const errors = [];
  const collect = e => {
    if(!e) {
      return;
    }
    if(Array.isArray(e)) {
      e.forEach(collect);
      return;
    }
    errors.push(e.message || String(e));
  };
  collect(result.error);
  collect(result.statusResult && result.statusResult.error);
  for(const r of result.results || []) {
    collect(r.error);
  }
  return errors.length ? [...new Set(errors)].join('; ') : null;
}

async function verify(files, {now, docs}) {
  const documentLoader = makeDocumentLoader({docs: loadDocs(docs)});
  for(const file of files) {
    let line;
    try {
      const credential = readJson(file);
      const result = await vc.verifyCredential({
        credential, suite: makeSuite(), documentLoader, checkStatus, now: now ? new Date(now) : undefined
      });
      const status = statusWord(result);
      const verified = result.verified === true && status !== 'revoked' && status !== 'suspended';
      const error = result.verified ? (verified ? null : `credential is ${status}`) : errorText(result);
      line = {file, verified, error, status};
    } catch(e) {
      line = {file, verified: false, error: e.message || String(e), status: null};
    }
    process.stdout.write(JSON.stringify(line) + '\n');
  }
}

async function sign(input, output, {seed: seedHex, created, suite: suiteName = 'eddsa-rdfc-2022', curve, pointers} = {}) {
  const seed = seedHex ? Uint8Array.from(Buffer.from(seedHex, 'hex')) : undefined;
  const cryptosuite = SIGN_SUITES[suiteName]({pointers});
  const keyPair = suiteName.startsWith('ecdsa-') ?
    await EcdsaMultikey.generate({curve: curve || 'P-256'}) : await Ed25519Multikey.generate({seed});
  const did = `did:key:${keyPair.publicKeyMultibase}`;
  keyPair.controller = did;
  keyPair.id = `${did}#${keyPair.publicKeyMultibase}`;
  const credential = readJson(input);
  if(credential.issuer && typeof credential.issuer === 'object') {
    credential.issuer.id = did;
  } else {
    credential.issuer = did;
  }
  const suite = new DataIntegrityProof({signer: keyPair.signer(), date: created, cryptosuite});
  const documentLoader = makeDocumentLoader({docs: new Map()});
  const signed = await vc.issue({credential, suite, documentLoader});
  writeFileSync(output, JSON.stringify(signed, null, 2) + '\n');
  process.stdout.write(JSON.stringify({file: output, did, verificationMethod: keyPair.id}) + '\n');
}

// The holder's side of ecdsa-sd-2023: a derived proof revealing the base proof's mandatory statements and the
// statements the given JSON pointers select (Digital Bazaar's own selective disclosure).
async function derive(input, output, {pointers} = {}) {
  const cryptosuite = ecdsaSd2023.createDiscloseCryptosuite({selectivePointers: pointers || []});
  const documentLoader = makeDocumentLoader({docs: new Map()});
  const derived = await vc.derive({
    verifiableCredential: readJson(input), suite: new DataIntegrityProof({cryptosuite}), documentLoader
  });
  writeFileSync(output, JSON.stringify(derived, null, 2) + '\n');
  process.stdout.write(JSON.stringify({file: output}) + '\n');
}

// A wallet collecting a credential through a VC-API exchange, as the DCC Learner Credential Wallet does: POST {}
// for the VerifiablePresentationRequest, answer with a DID authentication signed for its challenge and domain.
// The only network access of this tool: the exchange URL it is given.
async function claim(exchangeUrl, output, {seed: seedHex, legacy} = {}) {
  const seed = seedHex ? Uint8Array.from(Buffer.from(seedHex, 'hex')) : undefined;
  const keyPair = await Ed25519Multikey.generate({seed});
  const didKey = didKeyDriver();
  didKey.use({multibaseMultikeyHeader: 'z6Mk', fromMultibase: Ed25519Multikey.from});
  const {didDocument} = await didKey.fromKeyPair({verificationKeyPair: keyPair});
  keyPair.controller = didDocument.id;
  keyPair.id = didDocument.authentication[0];
  const post = async body => {
    const response = await fetch(exchangeUrl, {
      method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(body)
    });
    const answer = await response.json();
    if(!response.ok) {
      throw new Error(`exchange answered ${response.status}: ${JSON.stringify(answer)}`);
    }
    return answer;
  };
  const {verifiablePresentationRequest: request} = await post({});
  if(!request.query.some(q => q.type === 'DIDAuthentication')) {
    throw new Error(`not a DID authentication request: ${JSON.stringify(request)}`);
  }
  const presentation = vc.createPresentation({holder: didDocument.id, version: legacy ? 1.0 : 2.0});
  const suite = legacy ?
    new Ed25519Signature2020({signer: keyPair.signer()}) :
    new DataIntegrityProof({signer: keyPair.signer(), cryptosuite: eddsaRdfc2022});
  const documentLoader = makeDocumentLoader({docs: new Map()});
  const signed = await vc.signPresentation({
    presentation, suite, challenge: request.challenge, domain: request.domain, documentLoader
  });
  const {verifiablePresentation} = await post({verifiablePresentation: signed});
  const [credential] = [].concat(verifiablePresentation.verifiableCredential);
  writeFileSync(output, JSON.stringify(credential, null, 2) + '\n');
  process.stdout.write(JSON.stringify({file: output, holder: didDocument.id, request, proof: signed.proof.type}) + '\n');
}

async function canon(files) {
  const documentLoader = makeDocumentLoader({docs: new Map()});
  for(const file of files) {
    let line;
    try {
      const nquads = await jsonld.canonize(readJson(file), {
        algorithm: 'RDFC-1.0', format: 'application/n-quads', documentLoader, safe: true, base: null
      });
      line = {file, nquads, error: null};
    } catch(e) {
      line = {file, nquads: null, error: e.message || String(e)};
    }
    process.stdout.write(JSON.stringify(line) + '\n');
  }
}

function parseOptions(args) {
  const options = {files: []};
  for(let i = 0; i < args.length; i++) {
    if(args[i] === '--now') {
      options.now = args[++i];
    } else if(args[i] === '--docs') {
      options.docs = args[++i];
    } else if(args[i] === '--seed') {
      options.seed = args[++i];
    } else if(args[i] === '--legacy') {
      options.legacy = true;
    } else if(args[i] === '--created') {
      options.created = args[++i];
    } else if(args[i] === '--suite') {
      options.suite = args[++i];
    } else if(args[i] === '--curve') {
      options.curve = args[++i];
    } else if(args[i] === '--pointers') {
      options.pointers = args[++i].split(',').filter(Boolean);
    } else {
      options.files.push(args[i]);
    }
  }
  return options;
}

async function main(argv) {
  const [command, ...rest] = argv;
  const options = parseOptions(rest);
  if(command === 'verify' && options.files.length) {
    await verify(options.files, options);
  } else if(command === 'sign' && options.files.length === 2) {
    await sign(...options.files, options);
  } else if(command === 'derive' && options.files.length === 2) {
    await derive(...options.files, options);
  } else if(command === 'canon' && options.files.length) {
    await canon(options.files);
  } else if(command === 'claim' && options.files.length === 2) {
    await claim(...options.files, options);
  } else {
    process.stderr.write(
      'usage: node dbvc.mjs verify [--now ISO] [--docs docs.json] FILE... | ' +
      'sign [--seed HEX] [--created ISO] [--suite S] [--curve P-256|P-384] [--pointers P,...] IN OUT | ' +
      'derive --pointers P,... IN OUT | ' +
      'canon FILE... | claim [--seed HEX] [--legacy] EXCHANGE_URL OUT\n');
    return 2;
  }
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
