#!/bin/sh
# Makes the SoftHSM2 token of the keymint HSM playground, once: a token store in SOFTHSM_HOME, its
# config, and an initialised token. A second run finds the token and leaves it as it is.
#
# Environment (all optional):
#   SOFTHSM_HOME         the store: softhsm2.conf, tokens/, generated PIN files (default /var/lib/keymint-softhsm)
#   SOFTHSM_LABEL        the token label: letters, digits, '.', '_' or '-' (default keymint)
#   SOFTHSM_PIN_FILE     a file holding the user PIN (a Docker/Compose secret, say)
#   SOFTHSM_PIN          the user PIN itself, if there is no file
#   SOFTHSM_SO_PIN_FILE  the same for the security officer's PIN
#   SOFTHSM_SO_PIN
# Without a PIN, a random one is made and kept in SOFTHSM_HOME/user.pin (or so.pin), mode 0600.
# The PINs reach softhsm2-util on its terminal, through script(1), never in its arguments, and
# nothing secret is printed.
set -eu

home=${SOFTHSM_HOME:-/var/lib/keymint-softhsm}
label=${SOFTHSM_LABEL:-keymint}
case $label in
  '' | *[!A-Za-z0-9._-]*)
    echo "keymint: SOFTHSM_LABEL \"$label\" must be letters, digits, '.', '_' or '-'" >&2
    exit 2
    ;;
esac
if [ "${#label}" -gt 32 ]; then
  echo "keymint: SOFTHSM_LABEL is longer than the 32 characters a token label can have" >&2
  exit 2
fi

umask 077
mkdir -p "$home/tokens"
conf=$home/softhsm2.conf
if [ ! -f "$conf" ]; then
  printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' "$home/tokens" >"$conf"
fi
SOFTHSM2_CONF=$conf
export SOFTHSM2_CONF

has_token() {
  softhsm2-util --show-slots 2>/dev/null | sed -n 's/^ *Label: *//p' | sed 's/ *$//' | grep -qxF "$label"
}

if has_token; then
  echo "keymint: SoftHSM token \"$label\" is ready in $home" >&2
  exit 0
fi

# The PIN file to use: the one named, else one written from the value given, else a new random PIN.
pin_file() { # $1 file variable's value, $2 value variable's value, $3 default file
  if [ -n "$1" ]; then
    if [ ! -s "$1" ]; then
      echo "keymint: the PIN file $1 is missing or empty" >&2
      exit 2
    fi
    printf '%s' "$1"
  elif [ -n "$2" ]; then
    printf '%s\n' "$2" >"$3"
    printf '%s' "$3"
  else
    if [ ! -s "$3" ]; then
      od -An -N12 -tx1 /dev/urandom | tr -d ' \n' >"$3"
      echo >>"$3"
    fi
    printf '%s' "$3"
  fi
}
user_pin_file=$(pin_file "${SOFTHSM_PIN_FILE:-}" "${SOFTHSM_PIN:-}" "$home/user.pin")
so_pin_file=$(pin_file "${SOFTHSM_SO_PIN_FILE:-}" "${SOFTHSM_SO_PIN:-}" "$home/so.pin")
# The first line, without a carriage return or trailing blanks.
pin=$(head -n 1 "$user_pin_file" | tr -d '\r' | sed 's/[[:space:]]*$//')
so_pin=$(head -n 1 "$so_pin_file" | tr -d '\r' | sed 's/[[:space:]]*$//')
for value in "$pin" "$so_pin"; do
  if [ "${#value}" -lt 4 ] || [ "${#value}" -gt 255 ]; then
    echo "keymint: a SoftHSM PIN has 4 to 255 characters" >&2
    exit 2
  fi
done

if command -v script >/dev/null 2>&1; then
  # softhsm2-util asks for each PIN twice on its terminal; script(1) gives it one and types the
  # answers. The terminal echoes the first line before softhsm2-util turns echo off: discarded.
  printf '%s\n%s\n%s\n%s\n' "$so_pin" "$so_pin" "$pin" "$pin" |
    script -qec "softhsm2-util --init-token --free --label $label" /dev/null >/dev/null 2>&1 || true
else
  # No script(1): the PINs go in the arguments of this short-lived process.
  softhsm2-util --init-token --free --label "$label" --so-pin "$so_pin" --pin "$pin" >/dev/null
fi

if ! has_token; then
  echo "keymint: softhsm2-util could not initialise the token \"$label\" in $home" >&2
  exit 1
fi
echo "keymint: SoftHSM token \"$label\" initialised in $home; its user PIN is in $user_pin_file" >&2
