#!/usr/bin/env bash
# The crash matrix (issue 10, fault 8): for every step of the restore plan
# (runbook 5.3, 5.2) and of both member replacement plans (2.4.1, 2.4.2),
# a child process running the plan is killed with SIGKILL inside the step,
# a second child resumes the plan, and the test checks the runbook's end
# state. Prints a summary table (step x outcome) at the end.
#
#   hack/crash-matrix.sh                 every step, killed at its first work point
#   LIFEBOAT_CRASH_POINTS=first,last hack/crash-matrix.sh
#                                        also at its end (work done, record lost)
#   LIFEBOAT_CRASH_STEPS=verify-backup,2.4.2/stop-etcd hack/crash-matrix.sh
#                                        some steps only
#   hack/crash-matrix.sh restore         one plan only (restore or member)
#
# Each case starts its own simulated cluster (2-5 minutes each on a busy
# two-core machine); the whole matrix takes hours. The normal test suite
# runs a random sample of three steps per plan instead (the seed is
# printed; LIFEBOAT_CRASH_SEED repeats it).
set -uo pipefail
cd "$(dirname "$0")/.."
eval "$(hack/tools.sh --print | sed 's/^/export /')"
export LIFEBOAT_CRASH_STEPS="${LIFEBOAT_CRASH_STEPS:-all}"
export LIFEBOAT_CRASH_POINTS="${LIFEBOAT_CRASH_POINTS:-first}"
out="${LIFEBOAT_CRASH_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/lifeboat-crash-matrix.XXXXXX")}"
mkdir -p "$out"
export LIFEBOAT_CRASH_SUMMARY="$out/summary.tsv"
: >"$LIFEBOAT_CRASH_SUMMARY"

which="${1:-all}"
status=0
run() { # package test
	echo "== go test $1 -run '^$2\$' (log: $out/$(basename "$1").log)"
	go test -p 1 -count=1 -timeout "${LIFEBOAT_CRASH_TIMEOUT:-600m}" -run "^$2\$" -v "$1" >"$out/$(basename "$1").log" 2>&1 || status=1
	grep -E '^(---|===) |crash case:|crash sample' "$out/$(basename "$1").log" | grep -vE '^=== (RUN|PAUSE|CONT)' || true
}
case "$which" in
all | restore) run ./restore TestCrashRestoreEveryStep ;;&
all | member) run ./member TestCrashReplaceEveryStep ;;
esac

echo
echo "Crash matrix (SIGKILL inside each step, then resume): $LIFEBOAT_CRASH_SUMMARY"
{
	printf 'plan\tstep\tpoint\tkilled-in-step\tresumed\tverified\tseconds\tkilled at\tnote\n'
	cat "$LIFEBOAT_CRASH_SUMMARY"
} | awk -F'\t' '
	{ for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } ; if (NF > nf) nf = NF ; n = NR }
	END {
		for (r = 1; r <= n; r++) {
			line = ""
			for (i = 1; i <= nf; i++) line = line sprintf("%-" (i == nf ? 0 : w[i]) "s", cell[r, i]) (i < nf ? "  " : "")
			print line
		}
	}'
total=$(wc -l <"$LIFEBOAT_CRASH_SUMMARY")
ok=$(awk -F'\t' '$4 == "yes" && $5 == "yes" && $6 == "yes"' "$LIFEBOAT_CRASH_SUMMARY" | wc -l)
echo "$ok of $total cases killed in the step, resumed and verified"
[ "$ok" -eq "$total" ] && [ "$total" -gt 0 ] || status=1
exit $status
