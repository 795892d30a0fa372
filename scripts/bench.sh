#!/usr/bin/env bash
# Runs keymint's benchmarks (bench/) on this machine, side by side with its peers: installs what
# they need that is missing (Debian: openssl, the jose C tool, pkcs11-tool from opensc, SoftHSM2;
# as root or with sudo), installs and builds keymint, then runs every case of bench/README.md and
# writes bench/results/latest.{json,md,svg} and the summary in the README. About 10 minutes on 2 cores.
#   KEYMINT_BENCH_QUICK=1 ./scripts/bench.sh             a quick pass with few runs (results/partial.*)
#   KEYMINT_BENCH_CASES=startup,rsa ./scripts/bench.sh   some cases only (results/partial.*)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-tools.sh
scripts/install.sh
exec pnpm run bench
