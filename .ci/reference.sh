#!/usr/bin/env bash
# Installs AWS's reference verifier (npm aws-jwt-verify, pinned in tests/reference/) into
# .e2e/reference and prints the node_modules path for REFERENCE_NODE_MODULES.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.e2e/reference
mkdir -p "$dest"
cp tests/reference/package.json tests/reference/package-lock.json "$dest/"
if ! cmp -s tests/reference/package-lock.json "$dest/node_modules/.package-lock.json.src" 2>/dev/null; then
    (cd "$dest" && npm ci --no-audit --no-fund --loglevel=error >&2)
    cp tests/reference/package-lock.json "$dest/node_modules/.package-lock.json.src"
fi
echo "$(pwd)/$dest/node_modules"
