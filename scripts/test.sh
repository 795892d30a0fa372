#!/usr/bin/env bash
# Runs every test of keymint on a fresh machine: installs the tools the tests use, installs and
# builds keymint, checks lint and formatting, type-checks, runs each package's tests, then prints
# one "N passed, N failed" line.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-tools.sh
scripts/install.sh
rm -f packages/*/.vitest-report.json apps/*/.vitest-report.json test/.vitest-report.json
status=0
pnpm exec biome ci --colors=off . || status=$?   # lint and formatting (biome.json)
pnpm exec turbo run typecheck --output-logs=errors-only || status=$?
pnpm exec turbo run test --concurrency=1 --continue || status=$?
node scripts/test-summary.mjs || status=$?
exit "$status"
