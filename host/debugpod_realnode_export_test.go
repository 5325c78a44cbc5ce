package host

// The shared host suite and its fake commands, for the real-node test of
// the debug-pod host (host_test: it imports clustertest, which imports
// host).
var (
	RunHostSuite = runHostSuite
	FakeCommands = fakeCommands
)
