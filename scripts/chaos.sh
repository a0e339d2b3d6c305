#!/usr/bin/env bash
# npm run chaos: the fault suite (test/chaos/) on the built CLI, real etcd and the kernel, then every figure it
# measured (RESULT key=value) and how long it took. `npm test` runs these suites too (they are integration
# suites); this runs them alone. Needs root. Extra arguments go to jest (e.g. a file name: partition).
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent build
mkdir -p .cache
rm -f .cache/chaos-results.txt
start=$(date +%s)
status=0
node --experimental-vm-modules node_modules/jest/bin/jest.js test/chaos "$@" --selectProjects integration || status=$?
echo "chaos: $(( $(date +%s) - start )) s"
[ -f .cache/chaos-results.txt ] && cat .cache/chaos-results.txt
exit "$status"
