package restore

// Internals the external tests (package restore_test) name.
const (
	DefaultManifestDir     = defaultManifestDir
	DefaultEtcdDataDir     = defaultEtcdDataDir
	DefaultEtcdBackupDir   = defaultEtcdBackupDir
	DefaultStatePath       = defaultStatePath
	DefaultQuorumStatePath = defaultQuorumStatePath
)

// NewState is newState, for the drills that read a run's recorded state.
var NewState = newState
