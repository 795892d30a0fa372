#!/bin/sh
# Entry point of the keymint HSM playground: makes sure the SoftHSM token exists (init-token.sh),
# points keymint at it, then runs the command given (the image's default: keymint keys describe --backend pkcs11).
#
# keymint finds the token through KEYMINT_PKCS11_URI, which names the PIN file (pin-source), so
#   keymint create --backend pkcs11 k.pub.json k.json
# needs no other flag. SOFTHSM2_CONF is set for softhsm2-util and pkcs11-tool as well.
set -eu

here=$(dirname "$(readlink -f "$0")")
SOFTHSM_HOME=${SOFTHSM_HOME:-/var/lib/keymint-softhsm}
SOFTHSM_LABEL=${SOFTHSM_LABEL:-keymint}
export SOFTHSM_HOME SOFTHSM_LABEL

"$here/init-token.sh"

SOFTHSM2_CONF=$SOFTHSM_HOME/softhsm2.conf
module=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
pin_file=${SOFTHSM_PIN_FILE:-$SOFTHSM_HOME/user.pin}
KEYMINT_PKCS11_URI=${KEYMINT_PKCS11_URI:-pkcs11:token=$SOFTHSM_LABEL?module-path=$module&pin-source=file:$pin_file}
KEYMINT_PKCS11_MODULE=${KEYMINT_PKCS11_MODULE:-$module}
export SOFTHSM2_CONF KEYMINT_PKCS11_URI KEYMINT_PKCS11_MODULE

if [ "$#" -eq 0 ]; then
  set -- keymint keys describe --backend pkcs11
fi
exec "$@"
