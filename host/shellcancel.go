package host

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Stopping a cancelled command on the host.
//
// Neither transport signals the command when its stream closes (sshd
// refuses signals for root logins; a kubelet's exec stream carries none),
// so a cancelled Run stops the command with a second, short line
// (stopRemote). The hard case is a command cancelled before it reported
// its PID: a loaded kubelet may start the exec only after the stream closed,
// and a process in that window (still in the runtime's init, or inside
// execve) shows neither its command line nor its environment, so no search
// by marker is reliable. The two lines therefore meet in two files named
// for the run's marker, each side writing its own flag before reading the
// other's:
//
//	wrapper (wrapLine)                   stopper (stopLine)
//	1. write its PGID to <marker>.pid    1. write the tombstone <marker>.cancelled
//	2. tombstone there? exit 130         2. PGID file there? kill that group
//	3. run the line in that group           (TERM, then KILL), until it is gone
//
// If the stopper does not see the PGID, the wrapper wrote it after the
// tombstone existed, so its check sees the tombstone; if the wrapper does
// not see the tombstone, its PGID was written before the stopper looked.
// Either way the command does not survive, whatever the latency of either
// exec. The wrapper leads a process group of its own, so the group holds the
// line and every descendant that does not leave it; a tree walk from the
// group leader catches those that do.

// runMarkerPrefix begins every marker; the marker names the run's files
// and is exported as LIFEBOAT_RUN to the line (for diagnosis).
const runMarkerPrefix = "lifeboat-run-"

// A run's files on the host: handshakeDir/<marker><suffix>. Files of runs
// that never finished are removed by the next stop line after an hour.
const (
	handshakeDir    = "/tmp"
	cancelledSuffix = ".cancelled"
	pgidSuffix      = ".pid"
)

// stopDone is the last line of a stop line's output: without it the stop
// did not run to its end, whatever the exit code says.
const stopDone = "lifeboat-stop-done"

// stopAttempts and stopTimeout bound stopRemote: each attempt runs the
// stop line with its own timeout, detached from the cancelled ctx.
const (
	stopAttempts = 3
	stopTimeout  = 15 * time.Second
)

func cancelledPath(marker string) string { return handshakeDir + "/" + marker + cancelledSuffix }
func pgidPath(marker string) string      { return handshakeDir + "/" + marker + pgidSuffix }

func newRunMarker() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return runMarkerPrefix + hex.EncodeToString(b)
}

// wrapLine wraps line for the transport: in a process group of its own
// (the shell the transport started when it leads its group already, as
// runc's exec does; otherwise a new session by setsid, which then does not
// fork, so the PID, the streams and the exit code stay; plain sh on a host
// without setsid, where only the tree walk reaches descendants),
// the shell writes its PID (its process group) to the PGID file, exits 130
// if the tombstone exists (removing both), reports its PID on the first
// line of standard error (pidPrefix), runs line in a subshell, removes the
// PGID file and writes the completion trailer (exitTrailer) as the last
// line of standard error, and exits with line's code.
func wrapLine(marker, line string) string {
	pf, tomb := pgidPath(marker), cancelledPath(marker)
	inner := "{ echo $$ > " + pf + "; } 2>/dev/null; " +
		"if [ -e " + tomb + " ]; then rm -f " + tomb + " " + pf + "; exit 130; fi; " +
		pidPrefix + "(" + line + "); c=$?; rm -f " + pf + "; " +
		`echo "` + exitTrailer + " " + marker + ` $c" >&2; exit $c`
	return "export LIFEBOAT_RUN=" + marker + "; w=" + quote(inner) + "; " +
		`g=; read -r _ _ _ _ g _ < /proc/$$/stat 2>/dev/null; ` +
		`if [ "$g" != "$$" ] && command -v setsid >/dev/null 2>&1; then exec setsid sh -c "$w"; fi; exec sh -c "$w"`
}

// stopTree is a shell function that stops the process $1 and all its
// descendants, not only its children: each is frozen (SIGSTOP) before its
// children are listed, so none forks behind the walk, then sent SIGTERM
// and thawed.
const stopTree = `t() { kill -STOP "$1" 2>/dev/null; for c in $(pgrep -P "$1"); do t "$c"; done; kill -TERM "$1" 2>/dev/null; kill -CONT "$1" 2>/dev/null; }; `

// stopLine is the stopper's side of the handshake for the run marker;
// pid is the PID the run reported (0: none arrived). It writes the
// tombstone, then takes the group from pid or the PGID file; with one it
// sends the group SIGTERM (and walks its leader's tree) every 100 ms until
// the group is gone, SIGKILL after 2 s, gives up after 5 s, and removes
// both files; without one it leaves the tombstone for the wrapper. It ends
// with stopDone.
func stopLine(pid int, marker string) string {
	g := ""
	if pid > 1 {
		g = strconv.Itoa(pid)
	}
	return stopTree + "d=" + handshakeDir + "; m=" + marker + `; tomb="$d/$m` + cancelledSuffix + `"; pf="$d/$m` + pgidSuffix + `"; ` +
		`: > "$tomb" || echo "cannot write $tomb"; ` +
		`find "$d" -maxdepth 1 -name '` + runMarkerPrefix + `*' \( -name '*` + cancelledSuffix + `' -o -name '*` + pgidSuffix + `' \) -mmin +60 -delete 2>/dev/null; ` +
		"g=" + g + `; if [ -z "$g" ] && [ -s "$pf" ]; then read g < "$pf"; fi; ` +
		`if [ -n "$g" ]; then n=0; ` +
		`while kill -0 -- "-$g" 2>/dev/null || kill -0 "$g" 2>/dev/null; do ` +
		`if [ $n -ge 50 ]; then echo "group $g survives"; break; fi; ` +
		`if [ $n -ge 20 ]; then kill -KILL -- "-$g" 2>/dev/null; kill -KILL "$g" 2>/dev/null; fi; ` +
		`kill -TERM -- "-$g" 2>/dev/null; t "$g"; n=$((n+1)); sleep 0.1; done; ` +
		`rm -f "$tomb" "$pf"; echo "stopped group $g ($n rounds)"; ` +
		`else echo "not started: tombstone left"; fi; echo ` + stopDone + "; exit 0"
}

// stopRemote runs stopLine for a cancelled run, detached from the
// cancelled ctx. An attempt that ends "successfully" without stopDone (an
// exec stream can end so with the line never run) is tried again, up to
// stopAttempts times, each bounded by stopTimeout; the line is idempotent.
// A transport failure ends it (the host is unreachable: the caller must
// not wait on it).
func (h *shellHost) stopRemote(ctx context.Context, pid int, marker string) {
	line := stopLine(pid, marker)
	for attempt := 1; attempt <= stopAttempts; attempt++ {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
		out := &limitedBuffer{n: 4 << 10}
		code, err := h.t(actx, line, nil, out, out)
		cancel()
		h.log.Debug("stopping cancelled command", "pid", pid, "marker", marker, "attempt", attempt, "code", code, "err", err, "output", out.String())
		if err == nil && strings.Contains(out.String(), stopDone) {
			return
		}
		if err != nil {
			break // the transport fails: trying again would not help
		}
	}
	h.log.Warn("a cancelled command may still run on the host", "host", h.name, "marker", marker,
		"tombstone", cancelledPath(marker))
}
