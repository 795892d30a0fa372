#!/bin/sh
# Prepares the runtime stage of the keymint images, in the file system rooted at ROOT (/ in the
# image): removes the package managers the node:20-slim image ships (npm, npx, corepack, yarn),
# which keymint does not need at run time, and makes /keys, the directory keys are written to,
# owned by the image's unprivileged user (node, uid 1000) when there is one.
#
# usage: docker/cli/prepare-runtime.sh [ROOT]
set -eu

root=${1:-/}
root=${root%/}

rm -rf "$root/usr/local/lib/node_modules/npm" "$root/usr/local/lib/node_modules/corepack" \
  "$root/usr/local/bin/npm" "$root/usr/local/bin/npx" "$root/usr/local/bin/corepack" \
  "$root/usr/local/bin/yarn" "$root/usr/local/bin/yarnpkg" "$root"/opt/yarn-*

mkdir -p "$root/keys"
chmod 0700 "$root/keys"
if [ -f "$root/etc/passwd" ] && grep -q '^node:' "$root/etc/passwd"; then
  owner=$(awk -F: '$1 == "node" { print $3 ":" $4 }' "$root/etc/passwd")
  chown "$owner" "$root/keys"
fi
