// A peer of the HTTP load comparison (scripts/load.sh, see BENCHMARKS.md): Node's own
// http server with AWS's verifier, aws-jwt-verify (the version pinned in tests/reference/,
// installed by scripts/load.sh), as a Node service would check Cognito access tokens.
//
//   PEER_NODE_MODULES=.../node_modules node scripts/peers/node-server.mjs POOL_JSON PORT_FILE
//
// POOL_JSON is what `load_server mint` wrote (userPoolId, clientId, scope, jwks). The
// JWKS is given in advance (cacheJwks) and tokens are checked with verifySync, so the
// server never reaches the network. Every request to any path is checked as this crate's
// layer checks load_server's /auth: an access token of the pool (iss, exp, token_use,
// client_id) with the scope, else 401. It answers "ok" as load_server's handler does.
import http from "node:http";
import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";

const [poolFile, portFile] = process.argv.slice(2);
if (!poolFile || !portFile) {
  console.error("usage: node node-server.mjs POOL_JSON PORT_FILE");
  process.exit(2);
}
const require = createRequire(process.env.PEER_NODE_MODULES + "/");
const { CognitoJwtVerifier } = require("aws-jwt-verify");

const pool = JSON.parse(readFileSync(poolFile, "utf8"));
const verifier = CognitoJwtVerifier.create({
  userPoolId: pool.userPoolId,
  tokenUse: "access",
  clientId: pool.clientId,
  scope: pool.scope,
});
verifier.cacheJwks(pool.jwks);

const server = http.createServer((req, res) => {
  const header = req.headers.authorization;
  let ok = false;
  if (header !== undefined && header.startsWith("Bearer ")) {
    try {
      verifier.verifySync(header.slice(7));
      ok = true;
    } catch {
      ok = false;
    }
  }
  if (ok) {
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
    res.end("ok");
  } else {
    res.writeHead(401, { "content-length": "0" });
    res.end();
  }
});
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address();
  writeFileSync(portFile, String(port));
  console.error(`node-server: 127.0.0.1:${port}, aws-jwt-verify, node ${process.version}`);
});
