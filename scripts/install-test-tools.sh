#!/usr/bin/env bash
# Installs the real tools keymint's tests cross-check against (Debian packages; run as root).
# Only what is missing is installed, so a second run costs nothing.
set -euo pipefail

packages=(
  openssl            # openssl pkey / dgst: independent checks of keys and signatures
  openssh-client     # ssh-keygen: OpenSSH and PEM fixtures
  jose               # the jose C tool: independent JWK thumbprints
  python3            # Debian's python3 with python3-cryptography: JWE test vectors
  python3-cryptography
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "keymint: installing test tools: ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
