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
  python3-jwcrypto   # jwcrypto: an independent JOSE library that opens keymint's files and JWEs
  golang-go golang-gopkg-square-go-jose.v2-dev  # go-jose, the JOSE library of step's family
  softhsm2           # SoftHSM2: a PKCS#11 token in a directory
  opensc             # pkcs11-tool: an independent look at a token
  p11-kit p11-kit-modules  # p11-kit server and p11-kit-client.so: a token forwarded over a socket
  swtpm swtpm-tools  # a software TPM 2.0 ...
  tpm2-tools tpm2-abrmd libtss2-tcti-tabrmd0 libtpm2-pkcs11-1 libtpm2-pkcs11-tools  # ... and its PKCS#11 module
  dbus dbus-x11      # private session buses for tpm2-abrmd and the keyring
  gnome-keyring libsecret-tools  # a real Secret Service, and secret-tool to look into it
  keyutils           # kernel keyrings: keyctl
  time               # /usr/bin/time: peak memory of a run, in the hostile-input tests
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
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
