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
// A refusal for the type of a claim that tower-cognito does not read (`scope`, `jti`,
// `aud`: see `UNREAD`) carries `"rest"` too: the verdict on the rest of the token.
import { createRequire } from "node:module";
import { createInterface } from "node:readline";

const modules = process.env.REFERENCE_NODE_MODULES;
if (!modules) {
  process.stderr.write("REFERENCE_NODE_MODULES is not set\n");
  process.exit(2);
}
const require = createRequire(modules + "/");
const { CognitoJwtVerifier } = require("aws-jwt-verify");
const { decomposeUnverifiedJwt } = require("aws-jwt-verify/jwt");

// The claims aws-jwt-verify types while parsing that tower-cognito's verification does
// not read (so it takes them of any type; README, "Stricter than aws-jwt-verify"), each
// with the reference's own rule. `aud` is read only as the app client claim of an ID
// token, and then typed by both.
const UNREAD = {
  scope: (v) => typeof v === "string",
  jti: (v) => typeof v === "string",
  aud: (v) => typeof v === "string" || (Array.isArray(v) && v.every((a) => typeof a === "string")),
};
const UNREAD_REFUSAL = /^JWT payload (scope|jti|aud) claim is not/;

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

function verdict(run) {
  try {
    run();
    return { ok: true };
  } catch (err) {
    const name = err?.constructor?.name ?? typeof err;
    return { ok: false, error: name, message: String(err?.message ?? err).slice(0, 300) };
  }
}

function judge(verifier, token) {
  const result = verdict(() => verifier.verifySync(token));
  if (!result.ok && result.error === "JwtParseError" && UNREAD_REFUSAL.test(result.message)) {
    result.rest = judgeRest(verifier, token);
  }
  return result;
}

// The reference's verdict on everything but the unread claims of the wrong type: those
// are taken out of the parsed payload, which is parsed and checked again as the reference
// parses a token, while the signature is still checked over the bytes as sent.
function judgeRest(verifier, token) {
  return verdict(() => {
    const [headerB64, payloadB64, signatureB64] = token.split(".");
    const payload = JSON.parse(Buffer.from(payloadB64, "base64url").toString("utf8"));
    for (const [name, ok] of Object.entries(UNREAD)) {
      if (Object.hasOwn(payload, name) && !ok(payload[name])) delete payload[name];
    }
    const rest = Buffer.from(JSON.stringify(payload)).toString("base64url");
    const decomposed = decomposeUnverifiedJwt(`${headerB64}.${rest}.${signatureB64}`);
    decomposed.payloadB64 = payloadB64;
    verifier.getVerifyParameters = function (_jwt, properties) {
      const issuerConfig = this.getIssuerConfig(decomposed.payload.iss);
      return {
        decomposedJwt: decomposed,
        jwksUri: issuerConfig.jwksUri,
        verifyProperties: { ...issuerConfig, ...properties },
      };
    };
    try {
      verifier.verifySync(token);
    } finally {
      delete verifier.getVerifyParameters;
    }
  });
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
