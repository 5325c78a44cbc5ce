package host

// CheckDebugPod is checkDebugPod for the external tests (host_test), which
// may import clustertest where the internal ones may not (clustertest
// imports host).
var CheckDebugPod = checkDebugPod
