package release

// Capability is a feature of the cluster's recovery tooling that does not
// follow the generation boundary, so the generation alone does not say
// whether the cluster has it.
type Capability string

const (
	// CapabilityRestoreBumpOptIn: the host's classic cluster-restore.sh
	// accepts ETCD_ETCDCTL_RESTORE_ENABLE_BUMP (its restore pod restores
	// with --bump-revision 1000000000 --mark-compacted) and
	// ETCD_RESTORE_SKIP_MOVE_CP_STATIC_PODS. The cluster-etcd-operator
	// added both in July 2023 and backported them to its release-4.11 to
	// release-4.14 branches, so only z-streams built after that carry them:
	// the minor version cannot tell, only the script on the host can. Detect
	// reports it from the host's /usr/local/bin/cluster-restore.sh. In
	// GenerationEtcdOnly the restore pod always bumps (sized from
	// revision.json) and the option is gone, so it is not reported there.
	CapabilityRestoreBumpOptIn Capability = "restore-bump-opt-in"
)

// The quorum guard override
// (spec.unsupportedConfigOverrides.useUnsupportedUnsafeNonHANonProductionUnstableEtcd
// of the Etcd resource "cluster") is honoured by the cluster-etcd-operator
// of every supported release (its ceohelpers read it since 4.4); the 4.x
// member replacement procedures already turn it off. It is therefore no
// capability: what is new in GenerationEtcdOnly is that the restore turns it
// off too.
