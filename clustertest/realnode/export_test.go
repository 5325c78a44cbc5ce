package realnode

// Snapshot is snapshot, for the test that the machine is left as found.
var Snapshot = snapshot
