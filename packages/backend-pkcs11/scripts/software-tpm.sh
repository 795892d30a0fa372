#!/usr/bin/env bash
# A software TPM for keymint's pkcs11 backend: swtpm on 127.0.0.1, a private D-Bus session bus,
# tpm2-abrmd on it, and a tpm2-pkcs11 store with one token. Everything lives in DIR.
#
#   eval "$(software-tpm.sh start DIR [LABEL] [USER_PIN] [SO_PIN])"   # starts, prints the exports
#   software-tpm.sh env DIR                                           # prints the exports again
#   software-tpm.sh stop DIR                                          # stops the three daemons by PID
#
# Needs Debian's swtpm swtpm-tools tpm2-tools tpm2-abrmd libtss2-tcti-tabrmd0 libtpm2-pkcs11-1
# libtpm2-pkcs11-tools dbus (scripts/install-test-tools.sh installs them). A second `start` on the
# same DIR reuses the TPM state and the token. Fails loudly, naming the service, when one does not start.
set -euo pipefail

usage() {
  echo "usage: $0 start DIR [LABEL] [USER_PIN] [SO_PIN] | env DIR | stop DIR" >&2
  exit 2
}

[ $# -ge 2 ] || usage
command=$1
dir=$2
MODULE=/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so
[ -e "$MODULE" ] || MODULE=$(find /usr/lib -name libtpm2_pkcs11.so 2>/dev/null | head -n 1)

alive() { [ -f "$dir/$1.pid" ] && kill -0 "$(cat "$dir/$1.pid")" 2>/dev/null; }

stop_one() {
  local name=$1 pid
  [ -f "$dir/$name.pid" ] || return 0
  pid=$(cat "$dir/$name.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/$name.pid"
}

stop_all() {
  stop_one abrmd
  stop_one dbus
  stop_one swtpm
}

fail() {
  echo "software-tpm: $1" >&2
  [ -n "${2:-}" ] && [ -f "$2" ] && sed 's/^/  /' "$2" >&2
  stop_all
  exit 1
}

# wait_for NAME LOG COMMAND...: until COMMAND succeeds, for up to 20 s, while NAME's process lives.
wait_for() {
  local name=$1 log=$2
  shift 2
  for _ in $(seq 1 200); do
    alive "$name" || fail "$name exited before it was ready" "$log"
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  fail "$name was not ready after 20 s" "$log"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port_pair() {
  # The swtpm TCTI takes the control port to be the data port + 1.
  python3 -c '
import socket
for _ in range(50):
    a = socket.socket(); a.bind(("127.0.0.1", 0)); port = a.getsockname()[1]
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", port + 1))
    except OSError:
        a.close(); continue
    a.close(); b.close(); print(port); break
'
}

print_env() {
  [ -f "$dir/env" ] || { echo "software-tpm: $dir has no running TPM (run: $0 start $dir)" >&2; exit 1; }
  cat "$dir/env"
}

case "$command" in
  start)
    label=${3:-keymint-tpm}
    pin=${4:-123456}
    sopin=${5:-12345678}
    mkdir -p "$dir/state" "$dir/store"
    dir=$(cd "$dir" && pwd)
    if alive swtpm || alive dbus || alive abrmd; then
      echo "software-tpm: a TPM is already running in $dir" >&2
      print_env
      exit 0
    fi
    for tool in swtpm dbus-daemon tpm2-abrmd tpm2_getcap tpm2_ptool python3; do
      command -v "$tool" >/dev/null || fail "$tool is not installed: run scripts/install-test-tools.sh (Debian: swtpm tpm2-tools tpm2-abrmd libtpm2-pkcs11-tools dbus)"
    done
    [ -n "$MODULE" ] && [ -e "$MODULE" ] || fail "libtpm2_pkcs11.so is not installed (Debian: libtpm2-pkcs11-1)"
    port=$(free_port_pair)
    [ -n "$port" ] || fail "no two free consecutive ports on 127.0.0.1"

    swtpm socket --tpm2 --tpmstate "dir=$dir/state" \
      --server "type=tcp,port=$port,bindaddr=127.0.0.1" --ctrl "type=tcp,port=$((port + 1)),bindaddr=127.0.0.1" \
      --flags not-need-init,startup-clear </dev/null >"$dir/swtpm.log" 2>&1 &
    echo $! >"$dir/swtpm.pid"
    wait_for swtpm "$dir/swtpm.log" port_open "$port"

    rm -f "$dir/bus"
    dbus-daemon --session --nofork --nopidfile "--address=unix:path=$dir/bus" </dev/null >"$dir/dbus.log" 2>&1 &
    echo $! >"$dir/dbus.pid"
    wait_for dbus "$dir/dbus.log" test -S "$dir/bus"

    export DBUS_SESSION_BUS_ADDRESS="unix:path=$dir/bus"
    export TPM2TOOLS_TCTI=tabrmd:bus_type=session
    root=()
    [ "$(id -u)" -eq 0 ] && root=(--allow-root)
    tpm2-abrmd --session "${root[@]}" "--tcti=swtpm:host=127.0.0.1,port=$port" </dev/null >"$dir/abrmd.log" 2>&1 &
    echo $! >"$dir/abrmd.pid"
    wait_for abrmd "$dir/abrmd.log" tpm2_getcap properties-fixed

    if [ ! -e "$dir/store/tpm2_pkcs11.sqlite3" ]; then
      tpm2_ptool init "--path=$dir/store" >"$dir/ptool.log" 2>&1 || fail "tpm2_ptool init failed" "$dir/ptool.log"
    fi
    if ! tpm2_ptool listtokens --pid=1 "--path=$dir/store" 2>/dev/null | grep -q "label: $label\$"; then
      tpm2_ptool addtoken --pid=1 "--label=$label" "--userpin=$pin" "--sopin=$sopin" "--path=$dir/store" >>"$dir/ptool.log" 2>&1 ||
        fail "tpm2_ptool addtoken failed" "$dir/ptool.log"
    fi
    cat >"$dir/env" <<ENV
export DBUS_SESSION_BUS_ADDRESS='unix:path=$dir/bus'
export TPM2TOOLS_TCTI='tabrmd:bus_type=session'
export TPM2_PKCS11_TCTI='tabrmd:bus_type=session'
export TPM2_PKCS11_STORE='$dir/store'
export TSS2_LOG='all+NONE'
export KEYMINT_TPM_MODULE='$MODULE'
export KEYMINT_TPM_TOKEN='$label'
ENV
    print_env
    ;;
  env)
    print_env
    ;;
  stop)
    [ -d "$dir" ] || exit 0
    stop_all
    rm -f "$dir/env" "$dir/bus"
    ;;
  *)
    usage
    ;;
esac
