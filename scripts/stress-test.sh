#!/usr/bin/env bash
# The suite's bar against flakiness: `npm test` several times in a row (3 by default) while stress-ng keeps
# every core busy (4 CPU workers: on a 2-core machine, twice as many as there are cores), as other work on
# a shared machine would. Prints one line per run from jest's summary, and exits non-zero if any run failed.
# Needs root, as `npm test` does (and to install stress-ng, Debian's package, when it is missing).
#
#   scripts/stress-test.sh [-n RUNS]        or: npm run stress-test -- -n 5
set -euo pipefail

runs=3
while getopts 'n:h' opt; do
  case "$opt" in
    n) runs=$OPTARG ;;
    *) echo "usage: $0 [-n RUNS]" >&2; exit 2 ;;
  esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "stress-test: -n wants a positive number of runs, not '$runs'" >&2; exit 2; }
cd "$(dirname "$0")/.."

if ! command -v stress-ng >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "stress-test: stress-ng is missing; run as root (or: sudo apt-get install stress-ng)" >&2
    exit 1
  fi
  echo "stress-test: installing stress-ng" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends stress-ng >/dev/null 2>&1 || {
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends stress-ng >/dev/null
  }
fi

logs=$(mktemp -d -t stress-test.XXXXXX)
stress_pid=
stop_stress() {
  # Only the stress-ng we started, by its PID; it stops its own workers on SIGTERM.
  if [ -n "$stress_pid" ] && kill -0 "$stress_pid" 2>/dev/null; then
    kill "$stress_pid" 2>/dev/null || true
    wait "$stress_pid" 2>/dev/null || true
  fi
}
trap stop_stress EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stress-ng --cpu 4 --timeout 0 --quiet &
stress_pid=$!
echo "stress-test: stress-ng --cpu 4 running (pid $stress_pid); $runs run(s) of npm test; logs in $logs" >&2

summaries=()
failed=0
for i in $(seq 1 "$runs"); do
  if ! kill -0 "$stress_pid" 2>/dev/null; then
    echo "stress-test: stress-ng is no longer running; the results would not mean anything" >&2
    exit 1
  fi
  log=$logs/run-$i.log
  started=$(date +%s)
  set +e
  npm test 2>&1 | tee "$log"
  code=${PIPESTATUS[0]}
  set -e
  took=$(($(date +%s) - started))
  jest=$(grep -E '^jest: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped' "$log" | tail -1 || true)
  [ -n "$jest" ] || jest='no jest summary (npm test stopped before jest finished)'
  line="run $i/$runs: $([ "$code" -eq 0 ] && echo passed || echo "FAILED (exit $code)"); $jest; $((took / 60)) min $((took % 60)) s; log $log"
  summaries+=("$line")
  echo "stress-test: $line" >&2
  [ "$code" -eq 0 ] || failed=$((failed + 1))
done

echo
echo "stress-test summary (npm test beside stress-ng --cpu 4 on $(nproc) cores):"
printf '  %s\n' "${summaries[@]}"
[ "$failed" -eq 0 ] || { echo "stress-test: $failed of $runs run(s) failed" >&2; exit 1; }
echo "stress-test: all $runs run(s) passed"
