// Verifies tokens with aws-jwt-verify, AWS's reference verifier, using only a JWKS given on
// stdin (verifySync: no network). Input: {"userPoolId", "clientId", "jwks", "tokens": [..]}.
// Output: one JSON array of {"valid": bool, "error": string|null}, in input order.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";

const modules = process.env.REFERENCE_NODE_MODULES;
const require = createRequire(modules + "/");
const { CognitoJwtVerifier } = require("aws-jwt-verify");

const input = JSON.parse(readFileSync(0, "utf8"));
const verifier = CognitoJwtVerifier.create({
  userPoolId: input.userPoolId,
  tokenUse: null,
  clientId: input.clientId,
});
verifier.cacheJwks(input.jwks);
const results = input.tokens.map((token) => {
  try {
    verifier.verifySync(token);
    return { valid: true, error: null };
  } catch (err) {
    return { valid: false, error: err.constructor.name };
  }
});
process.stdout.write(JSON.stringify(results));
