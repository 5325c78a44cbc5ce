package host

import (
	"testing"
	"time"
)

// The shared host suite and its fake commands, for the real-node test of
// the debug-pod host (host_test: it imports clustertest, which imports
// host).
var FakeCommands = fakeCommands

// RunHostSuite runs the shared suite on a debug pod of a real node. Its
// cancelled commands are cancelled after their PID report (5 s): earlier
// cancellation on a loaded real node is an open fault, covered by
// TestDebugPodCancelStopsCommandOnRealNode's opt-in cases.
func RunHostSuite(t *testing.T, h Host, dir, log string) {
	suiteCancelAfter.Store(h, 5*time.Second)
	defer suiteCancelAfter.Delete(h)
	runHostSuite(t, h, dir, log)
}

// RunSuite is the shared suite for the debug-pod host's tests (host_test,
// which import host/debugpod).
var RunSuite = runHostSuite
