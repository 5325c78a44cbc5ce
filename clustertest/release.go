package clustertest

import (
	"fmt"
	"os"
	"path"

	corev1 "k8s.io/api/core/v1"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"
	"github.com/lifeboat-dev/lifeboat/release"
)

// The release a simulated cluster plays (Options.Release).
//
// Every release writes its version into ClusterVersion "version"
// (status.desired and one Completed status.history entry, see
// seedClusterVersion). The hosts' layout follows the release's procedure
// generation (package release):
//
//   - release.GenerationClassic (4.5-4.17): the etcd static pod has the
//     containers etcdctl, etcd and etcd-metrics, as the 4.5 runbook shows,
//     and etcd-readyz from 4.10; /usr/local/bin holds no operator script.
//   - release.GenerationEtcdOnly (4.18+): the etcd static pod also has
//     etcd-rev (the extra containers are shown running while the pod runs;
//     only etcd is a process), and /usr/local/bin holds disable-etcd.sh and
//     quorum-restore.sh, written whenever an etcd revision is installed (the
//     real etcd pod's init container copies them on every start). They are
//     marker files: running one fails; the simulation does not play their
//     procedures. The etcd-rev container's revision.json writer is played
//     by etcd_rev.go, the quorum guard (4.14+) by quorumguard.go.

// defaultRelease is the release of Options' zero value: the 4.5 runbook's.
const defaultRelease = "4.5.2"

// etcdReadyzMinor is the first 4.y whose etcd static pod has the
// etcd-readyz container (the operator's release-4.10 branch).
const etcdReadyzMinor = 10

// etcdOnlyScripts are the scripts the 4.18+ etcd pod copies into
// /usr/local/bin that the classic generation has not.
var etcdOnlyScripts = []string{"disable-etcd.sh", "quorum-restore.sh"}

// resolveRelease settles Options.Release and Options.ClusterVersion: either
// one names the release, both must agree when both are set, "" for both is
// defaultRelease. It refuses a version the release package does not know.
func resolveRelease(opts *Options) (release.Generation, error) {
	switch {
	case opts.Release == "" && opts.ClusterVersion == "":
		opts.Release = defaultRelease
	case opts.Release == "":
		opts.Release = opts.ClusterVersion
	case opts.ClusterVersion != "" && opts.ClusterVersion != opts.Release:
		return 0, opterr.New("", "clustertest.Options.Release %q and clustertest.Options.ClusterVersion %q differ; set one", opts.Release, opts.ClusterVersion)
	}
	opts.ClusterVersion = opts.Release
	g, err := release.GenerationOfVersion(opts.Release)
	if err != nil {
		return 0, opterr.New("clustertest.Options.Release", "%w", err)
	}
	return g, nil
}

// generation is the procedure generation of the cluster's release.
func (c *Cluster) generation() release.Generation {
	g, _ := release.GenerationOfVersion(c.opts.ClusterVersion) // checked by New
	return g
}

// releaseEtcdContainers are the containers the release's etcd static pod
// has beyond etcdctl, etcd and etcd-metrics.
func (c *Cluster) releaseEtcdContainers(image string, mounts []corev1.VolumeMount) []corev1.Container {
	var out []corev1.Container
	if v, err := release.ParseVersion(c.opts.ClusterVersion); err == nil && (v.Major > 4 || v.Minor >= etcdReadyzMinor) {
		out = append(out, corev1.Container{
			Name:         "etcd-readyz",
			Image:        image,
			Command:      []string{"cluster-etcd-operator", "readyz", "--target=https://localhost:2379", "--listen-port=9980"},
			VolumeMounts: mounts,
		})
	}
	if c.generation() != release.GenerationEtcdOnly {
		return out
	}
	return append(out, corev1.Container{
		Name:  release.EtcdRevContainer,
		Image: image,
		Command: []string{"/bin/sh", "-c",
			"cluster-etcd-operator rev --endpoints=$(ALL_ETCD_ENDPOINTS) --client-cert-file=$(ETCDCTL_CERT) --client-key-file=$(ETCDCTL_KEY) --client-cacert-file=$(ETCDCTL_CACERT)"},
		VolumeMounts: mounts,
	})
}

// writeReleaseScripts lays the release's operator scripts on h's
// /usr/local/bin (see etcdOnlyScripts).
func (c *Cluster) writeReleaseScripts(h *Host) error {
	if c.generation() != release.GenerationEtcdOnly {
		return nil
	}
	for _, name := range etcdOnlyScripts {
		p := path.Join(release.ScriptsDir, name)
		body := fmt.Sprintf("#!/usr/bin/env bash\n\n### Created by cluster-etcd-operator. DO NOT edit.\n\n"+
			"# clustertest: marker of OpenShift %s's %s; the simulation does not run it.\necho \"clustertest: %s is a marker\" >&2\nexit 1\n",
			c.opts.ClusterVersion, name, name)
		if err := os.WriteFile(h.path(p), []byte(body), 0o755); err != nil {
			return fmt.Errorf("clustertest: host %s: writing %s: %w", h.name, p, err)
		}
	}
	return nil
}
