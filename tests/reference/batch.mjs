// Judges a batch of tokens with aws-jwt-verify, AWS's reference verifier, in one process,
// with the JWKS handed in (cacheJwks + verifySync: nothing leaves the machine).
// tests/differential.rs drives it.
//
// Input: JSON lines on stdin. Either
//   {"setup": {"userPoolId", "jwks", "verifiers": [{"clientId", "tokenUse", "graceSeconds"}, ..]}}
// once, then one {"token", "verifier": <index into verifiers>} per case (the compact form), or
// a self-contained line {"jwks", "userPoolId" | "issuer", "clientId", "tokenUse", "token"}.
// Output: one JSON line per case, in input order: {"ok": true} or
// {"ok": false, "error": "<error class name>", "message": "<first 300 characters>"}.
import { createRequire } from "node:module";
import { createInterface } from "node:readline";

const modules = process.env.REFERENCE_NODE_MODULES;
if (!modules) {
  process.stderr.write("REFERENCE_NODE_MODULES is not set\n");
  process.exit(2);
}
const require = createRequire(modules + "/");
const { CognitoJwtVerifier } = require("aws-jwt-verify");

function makeVerifier(userPoolId, jwks, config) {
  const verifier = CognitoJwtVerifier.create({
    userPoolId,
    clientId: config.clientId ?? null,
    tokenUse: config.tokenUse ?? null,
    graceSeconds: config.graceSeconds ?? 0,
  });
  verifier.cacheJwks(jwks);
  return verifier;
}

function judge(verifier, token) {
  try {
    verifier.verifySync(token);
    return { ok: true };
  } catch (err) {
    const name = err?.constructor?.name ?? typeof err;
    return { ok: false, error: name, message: String(err?.message ?? err).slice(0, 300) };
  }
}

let verifiers = null;
const selfContained = new Map();
const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
  if (line.length === 0) continue;
  const input = JSON.parse(line);
  let result;
  if (input.setup) {
    const { userPoolId, jwks } = input.setup;
    verifiers = input.setup.verifiers.map((config) => makeVerifier(userPoolId, jwks, config));
    continue;
  } else if (input.jwks) {
    const userPoolId = input.userPoolId ?? input.issuer.split("/").pop();
    const key = JSON.stringify([userPoolId, input.jwks, input.clientId, input.tokenUse]);
    if (!selfContained.has(key)) {
      selfContained.set(key, makeVerifier(userPoolId, input.jwks, input));
    }
    result = judge(selfContained.get(key), input.token);
  } else {
    result = judge(verifiers[input.verifier ?? 0], input.token);
  }
  process.stdout.write(JSON.stringify(result) + "\n");
}
