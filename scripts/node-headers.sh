#!/bin/sh
# Prints the directory that holds the headers of the Node on PATH (DIR/include/node/node_api.h):
# what node-gyp calls nodedir, so that native addons (pkcs11js, for the PKCS#11 backend) build
# against them with nothing to download. When that Node has none, says what to do in one line on
# stderr and exits 1. scripts/install.sh uses it; so does test/install/pack-install.test.ts.
#
# usage: nodedir=$(scripts/node-headers.sh) && export npm_config_nodedir="$nodedir"
set -eu

node=$(node -p process.execPath)
dir=$(node -p 'require("node:path").resolve(process.execPath, "..", "..")')
if [ -f "$dir/include/node/node_api.h" ]; then
  printf '%s\n' "$dir"
  exit 0
fi
echo "keymint: the Node at $node has no headers in $dir/include/node, which the PKCS#11 backend's native build (pkcs11js) needs: install your distribution's Node headers package (Debian, Ubuntu: libnode-dev) or set npm_config_nodedir to a directory that holds include/node/node_api.h; without either, node-gyp downloads them from nodejs.org" >&2
exit 1
