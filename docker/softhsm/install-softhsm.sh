#!/bin/sh
# Installs what the HSM playground image needs besides keymint: SoftHSM2 and OpenSC's pkcs11-tool
# (Debian packages, without their recommends), and the token directory, owned by the image's user.
# Nothing is built here: no compiler or package manager is added.
set -eu

DEBIAN_FRONTEND=noninteractive
export DEBIAN_FRONTEND
apt-get update
apt-get install -y --no-install-recommends softhsm2 opensc
rm -rf /var/lib/apt/lists/*

install -d -m 0700 -o node -g node /var/lib/keymint-softhsm
