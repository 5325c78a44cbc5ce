package release

import (
	"fmt"
	"strings"

	"github.com/blang/semver/v4"
)

// Generation is a generation of the OpenShift disaster-recovery procedures:
// the set of releases whose cluster-etcd-operator ships the same restore
// scripts and static pod layout, and so the same procedure. The zero value
// is GenerationUnknown (not decided).
type Generation int

const (
	// GenerationUnknown is the zero value: no generation decided.
	GenerationUnknown Generation = iota

	// GenerationClassic is OpenShift 4.5 to 4.17: the procedures of the 4.5
	// runbook (lifeboat's seed). To restore, the etcd, kube-apiserver,
	// kube-controller-manager and kube-scheduler static pods are stopped
	// (cluster-restore.sh moves all four manifests), the snapshot is restored
	// on the recovery host and the operators are forced to redeploy. The
	// etcd static pod has the containers etcdctl, etcd, etcd-metrics (and
	// etcd-readyz from 4.10); /usr/local/bin holds cluster-backup.sh and
	// cluster-restore.sh only.
	GenerationClassic

	// GenerationEtcdOnly is OpenShift 4.18 and later (the 4.18 release notes
	// announce it as the updated, simplified etcd recovery): the etcd-only restore
	// and the quorum restore. disable-etcd.sh stops only the etcd static pod
	// on every control-plane host; cluster-restore.sh starts a restore pod
	// that restores with --mark-compacted and a revision bump of
	// 1.2 × maxRaftIndex from /var/lib/etcd/revision.json (written by the
	// etcd-rev container of the etcd static pod); quorum-restore.sh restores
	// quorum from a surviving member without a backup; the quorum guard is
	// turned off through the Etcd resource's
	// unsupportedConfigOverrides.useUnsupportedUnsafeNonHANonProductionUnstableEtcd
	// until the cluster is stable. kube-apiserver, kube-controller-manager
	// and kube-scheduler keep running.
	GenerationEtcdOnly
)

// Minor versions bounding the generations within major version 4.
const (
	// minSupportedMinor is the first 4.y release lifeboat supports (the
	// seed runbook's release).
	minSupportedMinor = 5
	// etcdOnlyMinor is the first 4.y release of GenerationEtcdOnly: the
	// cluster-etcd-operator's disable-etcd.sh, quorum-restore.sh and
	// etcd-rev ("cluster-etcd-operator rev") first ship in release-4.18
	// and in no earlier release branch.
	etcdOnlyMinor = 18
)

var generationNames = map[Generation]string{
	GenerationUnknown:  "unknown",
	GenerationClassic:  "classic",
	GenerationEtcdOnly: "etcd-only",
}

// String returns the generation's name: "classic", "etcd-only" or
// "unknown" (what UnmarshalText accepts); "Generation(N)" for a value
// out of range.
func (g Generation) String() string {
	if s, ok := generationNames[g]; ok {
		return s
	}
	return fmt.Sprintf("Generation(%d)", int(g))
}

// Releases describes the releases of the generation: "4.5-4.17",
// "4.18+" or "".
func (g Generation) Releases() string {
	switch g {
	case GenerationClassic:
		return fmt.Sprintf("4.%d-4.%d", minSupportedMinor, etcdOnlyMinor-1)
	case GenerationEtcdOnly:
		return fmt.Sprintf("4.%d+", etcdOnlyMinor)
	}
	return ""
}

// Valid reports whether g is a decided generation (not GenerationUnknown
// and not out of range).
func (g Generation) Valid() bool { return g == GenerationClassic || g == GenerationEtcdOnly }

// MarshalText implements encoding.TextMarshaler with the generation's name.
func (g Generation) MarshalText() ([]byte, error) {
	if _, ok := generationNames[g]; !ok {
		return nil, fmt.Errorf("%w: %d", ErrInvalidGeneration, int(g))
	}
	return []byte(g.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler: "classic",
// "etcd-only" or "unknown", case-insensitive; any other text is an error
// wrapping ErrInvalidGeneration.
func (g *Generation) UnmarshalText(b []byte) error {
	v, err := parseGeneration(string(b))
	if err != nil {
		return err
	}
	*g = v
	return nil
}

// parseGeneration parses a generation name as String writes it ("classic",
// "etcd-only", "unknown"; case-insensitive). Any other text is an error
// wrapping ErrInvalidGeneration.
func parseGeneration(s string) (Generation, error) {
	for g, name := range generationNames {
		if strings.EqualFold(strings.TrimSpace(s), name) {
			return g, nil
		}
	}
	return GenerationUnknown, fmt.Errorf("%w: %q (want %q or %q)", ErrInvalidGeneration, s, "classic", "etcd-only")
}

// ParseVersion parses an OpenShift version as ClusterVersion writes it
// ("4.14.8", "4.18.0-rc.2", "4.19.0-0.nightly-2025-01-01-000000"); a
// leading "v" and a missing patch ("4.18") are tolerated. Errors wrap
// ErrInvalidVersion.
func ParseVersion(s string) (semver.Version, error) {
	v, err := semver.ParseTolerant(strings.TrimSpace(s))
	if err != nil {
		return semver.Version{}, fmt.Errorf("%w: %q: %v", ErrInvalidVersion, s, err)
	}
	return v, nil
}

// generationOf returns the generation of an OpenShift release. Only the
// major and minor versions count: every z-stream and pre-release of 4.18
// (4.18.0-rc.1 included) is GenerationEtcdOnly. 4.5 to 4.17 is
// GenerationClassic; 4.18 and later 4.y, and 5.y (whose
// cluster-etcd-operator branches carry the same scripts and etcd-rev), are
// GenerationEtcdOnly. Anything else (4.0 to 4.4, other majors) is an error
// wrapping ErrUnsupportedRelease.
func generationOf(v semver.Version) (Generation, error) {
	switch {
	case v.Major == 4 && v.Minor >= etcdOnlyMinor, v.Major == 5:
		return GenerationEtcdOnly, nil
	case v.Major == 4 && v.Minor >= minSupportedMinor:
		return GenerationClassic, nil
	}
	return GenerationUnknown, fmt.Errorf("%w: %d.%d (lifeboat knows 4.%d to 5.y)", ErrUnsupportedRelease, v.Major, v.Minor, minSupportedMinor)
}

// GenerationOfVersion returns the generation of an OpenShift version
// (ParseVersion's forms). Only major.minor counts: 4.5 to 4.17 is
// GenerationClassic; 4.18 and later 4.y (pre-releases included) and 5.y
// are GenerationEtcdOnly; anything else is an error wrapping
// ErrUnsupportedRelease.
func GenerationOfVersion(s string) (Generation, error) {
	v, err := ParseVersion(s)
	if err != nil {
		return GenerationUnknown, err
	}
	return generationOf(v)
}
