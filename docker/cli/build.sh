#!/bin/sh
# Builds keymint from the source tree this script is in and installs the CLI, with its production
# dependencies only, into PREFIX:
#   PREFIX/lib/keymint   the @keymint/cli package, its node_modules (workspace packages copied in,
#                        the native PKCS#11 addon built here)
#   PREFIX/bin/keymint   a small launcher
# The build stage of docker/cli/Dockerfile and docker/softhsm/Dockerfile runs it; the test suite
# runs it too, on a copy of the tree (test/docker/scripts.test.ts). Needs Node 20 and, for the
# native addon, python3, make and a C++ compiler.
#
# usage: docker/cli/build.sh PREFIX
set -eu

if [ "$#" -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 PREFIX" >&2
  exit 2
fi
prefix=$1
case $prefix in
  /*) ;;
  *) prefix=$(pwd)/$prefix ;;
esac
if [ -e "$prefix/lib/keymint" ] || [ -e "$prefix/bin/keymint" ]; then
  echo "keymint: $prefix already holds a keymint: give an empty or new directory" >&2
  exit 1
fi

src=$(cd "$(dirname "$0")/../.." && pwd)
cd "$src"

if ! command -v pnpm >/dev/null 2>&1; then
  echo "keymint: installing pnpm" >&2
  npm install --global pnpm@12 --no-fund --no-audit --loglevel=error
fi
# node-gyp builds pkcs11js against the headers of the Node that runs it: nothing to download.
if [ -z "${npm_config_nodedir:-}" ]; then
  nodedir=$(node -p 'require("node:path").resolve(process.execPath, "..", "..")')
  if [ -f "$nodedir/include/node/node.h" ]; then
    npm_config_nodedir=$nodedir
    export npm_config_nodedir
  fi
fi
TURBO_TELEMETRY_DISABLED=1
DO_NOT_TRACK=1
export TURBO_TELEMETRY_DISABLED DO_NOT_TRACK

pnpm install --frozen-lockfile --prefer-offline --reporter=append-only
pnpm run build

# The CLI and what it needs at run time, nothing else: the workspace packages are copied in (no
# links back into this tree). --legacy resolves from the lockfile without the optional peer
# dependencies (vitest, fast-check) that the workspace links for tests.
mkdir -p "$prefix/lib" "$prefix/bin"
pnpm --filter @keymint/cli deploy --legacy --prod --config.auto-install-peers=false "$prefix/lib/keymint"

bin=$(node -p 'require(process.argv[1]).bin.keymint' "$prefix/lib/keymint/package.json")
cat >"$prefix/bin/keymint" <<LAUNCHER
#!/bin/sh
# keymint, as docker/cli/build.sh installed it
here=\$(dirname "\$(readlink -f "\$0")")
exec node "\$here/../lib/keymint/$bin" "\$@"
LAUNCHER
chmod 0755 "$prefix/bin/keymint"

echo "keymint: installed $("$prefix/bin/keymint" --version) in $prefix" >&2
