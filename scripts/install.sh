#!/usr/bin/env bash
# Installs what keymint needs to build and run (pnpm, dependencies, the native build of
# pkcs11js) and builds every package. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v pnpm >/dev/null 2>&1; then
  echo "keymint: installing pnpm" >&2
  npm install --global pnpm@12 --no-fund --no-audit --loglevel=error
fi
# Native addons (pkcs11js) build against the Node headers on this machine: nothing to download.
export npm_config_nodedir="${npm_config_nodedir:-/usr}"
pnpm install --frozen-lockfile --reporter=append-only
pnpm run build
