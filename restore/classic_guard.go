package restore

import (
	"fmt"

	"github.com/lifeboat-dev/lifeboat/release"
)

// classicGuardMinor is the first OpenShift 4 minor release whose classic
// "Restoring to a previous cluster state" turns the etcd quorum guard off
// around the forced etcd redeployment. The documentation added the two
// steps for 4.11 (openshift-docs #56622, "add quorum guard instructions
// for etcd restoring from disaster", after restores stalled with "etcd
// cluster has quorum of 1 which is not fault tolerant") and keeps them up
// to 4.17: once the single restored member serves the API, "oc patch
// etcd/cluster --type=merge -p '{"spec": {"unsupportedConfigOverrides":
// {"useUnsupportedUnsafeNonHANonProductionUnstableEtcd": true}}}'", then
// the forced etcd redeployment, then the override removed again. Without
// it the operator of those releases makes no new etcd revision for a
// cluster of one member, and the restore stalls at its etcd rollout.
const classicGuardMinor = 11

// classicTogglesGuard decides whether the classic plan for a cluster of
// version turns the quorum guard off around its etcd rollout, and says
// why. Only a version known to be older than 4.classicGuardMinor (the 4.5
// runbook's releases, whose procedure has no such step) leaves the guard
// alone. An unknown version (the API is down during most restores and
// nothing stated one) toggles it: every supported release's operator
// honours the override and the plan puts it back exactly as found on
// every exit path, so toggling it where it was not needed changes nothing,
// while leaving it on where it was needed stalls the restore.
func classicTogglesGuard(version string) (bool, string) {
	if version == "" {
		return true, "release unknown: the quorum guard is turned off around the etcd rollout, as the 4.11-4.17 procedure does (harmless before 4.11)"
	}
	v, err := release.ParseVersion(version)
	if err != nil {
		return true, fmt.Sprintf("release %q unparsable: the quorum guard is turned off around the etcd rollout", version)
	}
	if v.Major == 4 && v.Minor < classicGuardMinor {
		return false, fmt.Sprintf("release %s: its procedure has no quorum guard step", version)
	}
	return true, fmt.Sprintf("release %s: the quorum guard is turned off around the etcd rollout, as the 4.%d-4.17 procedure does", version, classicGuardMinor)
}

// planVersion is the version Plan, which does no I/O, builds for:
// Options.Release.Version, else Options.ClusterVersion.
func planVersion(o Options) string {
	if o.Release.Version != "" {
		return o.Release.Version
	}
	return o.ClusterVersion
}
