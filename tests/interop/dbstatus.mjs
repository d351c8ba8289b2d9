#!/usr/bin/env node
// Status list cross-check: Digital Bazaar's vc-bitstring-status-list reads credstream's status lists, offline.
// For each credential it loads the BitstringStatusListCredential named by credentialStatus (from --docs),
// verifies that list's eddsa-rdfc-2022 proof (issuer key from did:key or from a DID document in --docs), checks
// that list and credential have the same issuer, decodes encodedList and reports the credential's bit.
//
//   node dbstatus.mjs --docs docs.json FILE...   one JSON line per file: {file, verified, status, error}
//   node dbstatus.mjs --status-list-2021 --docs docs.json FILE...   the same with vc-status-list (StatusList2021Entry)
//
// --docs: JSON index {URL or DID: file name relative to the index}, as for dbvc.mjs.
import {readFileSync} from 'node:fs';
import {dirname, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';

import {CachedResolver} from '@digitalbazaar/did-io';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import {driver as didKeyDriver} from '@digitalbazaar/did-method-key';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {checkStatus as checkBitstringStatus} from '@digitalbazaar/vc-bitstring-status-list';
import {checkStatus as checkStatusList2021} from '@digitalbazaar/vc-status-list';

const HERE = dirname(fileURLToPath(import.meta.url));
const CONTEXT_DIR = resolve(HERE, '..', '..', 'shared', 'credentials', 'contexts');

function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

function loadIndex(indexPath, base = dirname(indexPath)) {
  const index = readJson(indexPath);
  return new Map(Object.entries(index).map(([url, file]) => [url, readJson(join(base, file))]));
}

function makeDocumentLoader(docs) {
  const contexts = loadIndex(join(CONTEXT_DIR, 'index.json'), CONTEXT_DIR);
  const didKey = didKeyDriver();
  didKey.use({multibaseMultikeyHeader: 'z6Mk', fromMultibase: Ed25519Multikey.from});
  const resolver = new CachedResolver();
  resolver.use(didKey);
  return async url => {
    const wrap = document => ({contextUrl: null, documentUrl: url, document: structuredClone(document)});
    if(contexts.has(url)) {
      return wrap(contexts.get(url));
    }
    if(url.startsWith('did:key:')) {
      return wrap(await resolver.get({url}));
    }
    if(docs.has(url)) {
      return wrap(docs.get(url));
    }
    const [base] = url.split('#');
    if(docs.has(base)) {
      const doc = docs.get(base);
      const method = (doc.verificationMethod || []).find(m => m.id === url);
      if(method) {
        return wrap({'@context': doc['@context'], ...method});
      }
    }
    throw new Error(`document not available offline: ${url}`);
  };
}

async function main(argv) {
  const files = [];
  let docsPath;
  let checkStatus = checkBitstringStatus;
  for(let i = 0; i < argv.length; i++) {
    if(argv[i] === '--status-list-2021') {
      checkStatus = checkStatusList2021;
    } else if(argv[i] === '--docs') {
      docsPath = argv[++i];
    } else {
      files.push(argv[i]);
    }
  }
  if(!docsPath || !files.length) {
    process.stderr.write('usage: node dbstatus.mjs [--status-list-2021] --docs docs.json FILE...\n');
    return 2;
  }
  const documentLoader = makeDocumentLoader(loadIndex(docsPath));
  const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022});
  for(const file of files) {
    let line;
    try {
      const result = await checkStatus({credential: readJson(file), documentLoader, suite});
      const error = result.error ? (result.error.message || String(result.error)) : null;
      // vc-status-list answers verified=false for a set bit (no `status`): its "verified" is "not revoked".
      const legacy = checkStatus === checkStatusList2021;
      const status = result.results ? result.results.map(r => (legacy ? !r.verified : r.status)) : null;
      line = {file, verified: legacy ? !result.error : result.verified === true, status, error};
    } catch(e) {
      line = {file, verified: false, status: null, error: e.message || String(e)};
    }
    process.stdout.write(JSON.stringify(line) + '\n');
  }
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
