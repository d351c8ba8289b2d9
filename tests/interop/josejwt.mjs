// Sign a VC-JWT with panva's `jose`: reads {"jwk": <private JWK>, "header": {...}, "payload": {...}} on stdin and
// prints the compact JWS. The key comes from the Python test, which then knows the kid / did:key to verify with.
import { CompactSign, importJWK } from "jose";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { jwk, header, payload } = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const key = await importJWK(jwk, header.alg);
const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
  .setProtectedHeader(header)
  .sign(key);
process.stdout.write(jws);
