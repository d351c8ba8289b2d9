#!/usr/bin/env node
// Benchmark: Digital Bazaar's vc library (vc.verifyCredential, DataIntegrityProof + eddsa-rdfc-2022) verifying
// credentials one after another, fully offline. Uses the packages pinned in tests/interop (npm ci there) and the
// same offline document loader as tests/interop/dbvc.mjs: contexts from shared/credentials/contexts, did:key
// resolved locally, nothing fetched. Credential status is not checked (as in the interop cross-check).
//
//   node bench/dbvc_verify.mjs --warmup W FILE...  -> one JSON line {count, seconds, cpu_seconds, per_second, failures}
//
// The first W files are verified untimed (JIT warm-up, caches); then every file is verified, timed.
import {readFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {dirname, join, resolve} from 'node:path';
import {fileURLToPath, pathToFileURL} from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');
const CONTEXT_DIR = join(ROOT, 'shared', 'credentials', 'contexts');
// Resolve packages from tests/interop/node_modules (this folder has none of its own).
const fromInterop = createRequire(join(ROOT, 'tests', 'interop', 'package.json'));
const load = async name => import(pathToFileURL(fromInterop.resolve(name)).href);

const vc = await load('@digitalbazaar/vc');
const {CachedResolver} = await load('@digitalbazaar/did-io');
const {DataIntegrityProof} = await load('@digitalbazaar/data-integrity');
const Ed25519Multikey = await load('@digitalbazaar/ed25519-multikey');
const {driver: didKeyDriver} = await load('@digitalbazaar/did-method-key');
const {cryptosuite: eddsaRdfc2022} = await load('@digitalbazaar/eddsa-rdfc-2022-cryptosuite');

const readJson = path => JSON.parse(readFileSync(path, 'utf8'));

function makeDocumentLoader() {
  const index = readJson(join(CONTEXT_DIR, 'index.json'));
  const contexts = new Map(Object.entries(index).map(([url, file]) => [url, readJson(join(CONTEXT_DIR, file))]));
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
    throw new Error(`document not available offline: ${url}`);
  };
}

async function verifyOne(credential, documentLoader) {
  const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022});
  const result = await vc.verifyCredential({
    credential, suite, documentLoader, checkStatus: async () => ({verified: true})
  });
  return result.verified === true;
}

async function main(argv) {
  let warmup = 20;
  const files = [];
  for(let i = 0; i < argv.length; i++) {
    if(argv[i] === '--warmup') {
      warmup = Number(argv[++i]);
    } else {
      files.push(argv[i]);
    }
  }
  if(!files.length) {
    process.stderr.write('usage: node bench/dbvc_verify.mjs [--warmup W] FILE...\n');
    return 2;
  }
  const credentials = files.map(readJson);
  const documentLoader = makeDocumentLoader();
  for(const credential of credentials.slice(0, warmup)) {
    await verifyOne(credential, documentLoader);
  }
  let failures = 0;
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  for(const credential of credentials) {
    if(!await verifyOne(credential, documentLoader)) {
      failures++;
    }
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpuStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  process.stdout.write(JSON.stringify({
    count: credentials.length, seconds, cpu_seconds: cpuSeconds, per_second: credentials.length / seconds, failures,
    node: process.version
  }) + '\n');
  return failures ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
