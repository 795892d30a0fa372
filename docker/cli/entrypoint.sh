#!/bin/sh
# Entry point of the keymint image: runs keymint with the container's arguments
# (docker run IMAGE create ... is keymint create ...).
#
# A password given as a Docker or Compose secret (/run/secrets/keymint_password) is used to open
# encrypted keys, unless KEYMINT_PASSWORD_FILE names one already; `create` still takes
# --password-file /run/secrets/keymint_password. Passwords are never put in arguments.
set -eu

home=${KEYMINT_HOME:-/opt/keymint}
secrets=${KEYMINT_SECRETS_DIR:-/run/secrets}

if [ -z "${KEYMINT_PASSWORD_FILE:-}" ] && [ -f "$secrets/keymint_password" ]; then
  KEYMINT_PASSWORD_FILE=$secrets/keymint_password
  export KEYMINT_PASSWORD_FILE
fi

exec "$home/bin/keymint" "$@"
