#!/usr/bin/env bash
# Runs a command N times while other processes keep every core busy, to show
# that tests whose result could depend on timing hold on a loaded machine.
#
#   hack/load.sh [-n runs] [-j busy-processes] [-k] -- command [args...]
#
#   -n runs            how many times to run the command (default 5)
#   -j busy-processes  CPU-bound processes at nice 0 kept running for the
#                      whole time (default: the number of cores)
#   -k                 keep going after a failed run (default: stop at the
#                      first failure, as "N green runs in a row" requires)
#
# Every run is a real one: GOFLAGS gets -count=1 for the command, so "go
# test" (hack/test.sh) runs each test again instead of printing the result
# it cached from the run before (a second run would otherwise "pass" in
# seconds). A -count already in GOFLAGS is kept.
#
# Each run prints "run i/N: PASS (Ts)" or "run i/N: FAIL (Ts, exit E)" and the
# last 40 lines of its output on failure; the full output of run i is kept in
# $LOAD_LOG_DIR/run-i.log (a temporary directory by default). A summary line
# "load: P/N passed under J busy processes" ends the output; the exit status
# is 0 only when every run passed.
#
# Example, the README's test command five times on a busy machine:
#
#   hack/load.sh -n 5 -- hack/test.sh
#   hack/load.sh -n 5 -- go test -p 1 -count=1 ./restore ./lifecycle
set -uo pipefail

runs=5
busy=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
keep=0
while getopts "n:j:kh" opt; do
	case $opt in
	n) runs=$OPTARG ;;
	j) busy=$OPTARG ;;
	k) keep=1 ;;
	h)
		sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
if [ "${1:-}" = "--" ]; then shift; fi
if [ $# -eq 0 ]; then
	echo "usage: hack/load.sh [-n runs] [-j busy-processes] [-k] -- command [args...]" >&2
	exit 2
fi
case $runs in '' | *[!0-9]*) echo "load: -n wants a number, got '$runs'" >&2; exit 2 ;; esac
case $busy in '' | *[!0-9]*) echo "load: -j wants a number, got '$busy'" >&2; exit 2 ;; esac

case " ${GOFLAGS:-} " in
*" -count="*) ;;
*) export GOFLAGS="${GOFLAGS:+$GOFLAGS }-count=1" ;;
esac

logdir=${LOAD_LOG_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/lifeboat-load.XXXXXX")}
mkdir -p "$logdir"

# The busy processes: plain shell loops, one core each, at nice 0. Their
# pids are kept so that exactly these (and nothing else) are stopped.
pids=()
stop_busy() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	pids=()
}
trap 'stop_busy; exit 130' INT TERM
trap stop_busy EXIT
for ((i = 0; i < busy; i++)); do
	nice -n 0 bash -c 'while :; do :; done' &
	pids+=("$!")
done
echo "load: $busy busy processes (pids ${pids[*]:-none}); $runs runs of: $*"
echo "load: logs in $logdir; GOFLAGS=$GOFLAGS"

passed=0
failed=0
for ((i = 1; i <= runs; i++)); do
	log=$logdir/run-$i.log
	start=$(date +%s)
	"$@" >"$log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	if [ $rc -eq 0 ]; then
		passed=$((passed + 1))
		echo "run $i/$runs: PASS (${secs}s)"
	else
		failed=$((failed + 1))
		echo "run $i/$runs: FAIL (${secs}s, exit $rc)"
		tail -n 40 "$log" | sed 's/^/    /'
		if [ $keep -eq 0 ]; then
			break
		fi
	fi
done
done_runs=$((passed + failed))
echo "load: $passed/$done_runs passed ($runs asked) under $busy busy processes: $*"
[ $failed -eq 0 ] && [ $done_runs -eq "$runs" ]
