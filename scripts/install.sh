#!/usr/bin/env bash
# Installs what keymint needs to build and run (pnpm, dependencies, the native build of
# pkcs11js) and builds every package. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v pnpm >/dev/null 2>&1; then
  echo "keymint: installing pnpm" >&2
  npm install --global pnpm@12 --no-fund --no-audit --loglevel=error
fi
# The native addon of the PKCS#11 backend (pkcs11js) builds against the headers of the Node that
# runs it, found next to that Node: nothing to download. Without them node-gyp downloads them, and
# scripts/node-headers.sh says in one line what to do instead.
if [ -z "${npm_config_nodedir:-}" ] && nodedir=$(scripts/node-headers.sh); then
  export npm_config_nodedir="$nodedir"
fi
pnpm install --frozen-lockfile --reporter=append-only
pnpm run build
