package restore

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// restorePodConfig is what buildRestorePod bakes into the restore pod.
type restorePodConfig struct {
	Member memberIdentity
	// ClusterToken is the initial cluster token of the new cluster.
	ClusterToken string
	// RevisionBump and mark-compacted are applied when the image has
	// etcdutl (etcd 3.5 and later); etcdctl of older images cannot.
	RevisionBump uint64
	// SnapshotPath is the snapshot inside the pod; /var/lib/etcd-backup/snapshot.db when
	// empty.
	SnapshotPath string
	// DataDir is the data directory inside the pod; /var/lib/etcd when
	// empty.
	DataDir string
}

// restorePodAnnotation marks a manifest written by buildRestorePod.
const restorePodAnnotation = "lifeboat.dev/restore-pod"

// buildRestorePod turns the cluster's own etcd-pod.yaml (the backup's
// static-pod-resources/etcd-pod-N/etcd-pod.yaml) into a restore pod, the
// way the cluster's restore-etcd-pod does it: the same image, volumes, env
// and certificates, but the etcd container first restores the snapshot
// with the image's own etcdutl (or etcdctl) into an empty data directory as
// a single-member cluster, then execs the original etcd command. The image's
// etcd therefore writes a data directory it can read, whatever version
// lifeboat's libraries are.
//
// The snapshot must be at cfg.SnapshotPath inside the pod; a hostPath
// volume for its directory (/var/lib/etcd-backup) is added when the pod
// does not mount it. Once restored, the staged snapshot is removed (the
// backup itself stays where it is), as the cluster's restore pod removes
// /var/lib/etcd-backup/snapshot.db.
func buildRestorePod(etcdPod []byte, cfg restorePodConfig) ([]byte, error) {
	if cfg.Member.Name == "" || cfg.Member.PeerURL == "" || cfg.ClusterToken == "" {
		return nil, opterr.New("", "the restore pod needs the member's name and peer URL (restore.Options.MemberName, restore.Options.PeerURL, or the etcd-pod.yaml) and the cluster token")
	}
	if cfg.SnapshotPath == "" {
		cfg.SnapshotPath = defaultEtcdBackupDir + "/snapshot.db"
	}
	if cfg.DataDir == "" {
		cfg.DataDir = defaultEtcdDataDir
	}
	var pod corev1.Pod
	if err := yaml.Unmarshal(etcdPod, &pod); err != nil {
		return nil, fmt.Errorf("parsing etcd pod manifest: %w", err)
	}
	idx := -1
	for i, c := range pod.Spec.Containers {
		if c.Name == "etcd" {
			idx = i
		}
	}
	if idx < 0 {
		return nil, fmt.Errorf("etcd pod manifest has no etcd container")
	}
	ctr := &pod.Spec.Containers[idx]
	if ctr.Image == "" {
		return nil, fmt.Errorf("%w: the etcd container of the etcd pod manifest names no image", ErrRestorePodImage)
	}
	original := originalCommand(ctr)

	q := shellQuote
	tmp := cfg.DataDir + "/restore-" + cfg.ClusterToken
	restoreArgs := []string{"snapshot", "restore", q(cfg.SnapshotPath),
		"--name", q(cfg.Member.Name),
		"--initial-cluster", q(cfg.Member.Name + "=" + cfg.Member.PeerURL),
		"--initial-cluster-token", q(cfg.ClusterToken),
		"--initial-advertise-peer-urls", q(cfg.Member.PeerURL),
		"--data-dir", q(tmp)}
	var b strings.Builder
	b.WriteString("#!/bin/sh\nset -eu\n")
	b.WriteString("# Written by lifeboat: restore the snapshot with this image's own etcd tools, then run etcd.\n")
	fmt.Fprintf(&b, "if [ -d %s/member ]; then\n  echo \"data directory already restored\"\nelse\n", q(cfg.DataDir))
	fmt.Fprintf(&b, "  if [ -n \"$(ls -A %s 2>/dev/null | grep -v -e '^restore-' -e '^lost+found$')\" ]; then echo \"%s is not empty\" >&2; exit 1; fi\n", q(cfg.DataDir), cfg.DataDir)
	fmt.Fprintf(&b, "  rm -rf %s\n", q(tmp)) // only our own half-written output of an earlier attempt
	b.WriteString("  if command -v etcdutl >/dev/null 2>&1; then\n")
	bump := ""
	if cfg.RevisionBump > 0 {
		bump = " --bump-revision " + strconv.FormatUint(cfg.RevisionBump, 10) + " --mark-compacted"
	}
	fmt.Fprintf(&b, "    etcdutl %s%s\n", strings.Join(restoreArgs, " "), bump)
	b.WriteString("  else\n")
	fmt.Fprintf(&b, "    ETCDCTL_API=3 etcdctl %s\n", strings.Join(restoreArgs, " "))
	b.WriteString("  fi\n")
	fmt.Fprintf(&b, "  mv %s/member %s/member\n  rmdir %s\n", q(tmp), q(cfg.DataDir), q(tmp))
	// As the cluster's restore pod does: the staged copy is consumed, so
	// no later attempt can restore it by mistake.
	fmt.Fprintf(&b, "  rm -f %s\n", q(cfg.SnapshotPath))
	b.WriteString("fi\n")
	b.WriteString(original)
	b.WriteString("\n")

	ctr.Command = []string{"/bin/sh", "-c", b.String()}
	ctr.Args = nil
	// The readiness of a restoring member comes late; let the probes wait.
	ctr.ReadinessProbe, ctr.LivenessProbe, ctr.StartupProbe = nil, nil, nil

	backupDir := cfg.SnapshotPath[:strings.LastIndexByte(cfg.SnapshotPath, '/')]
	if !mounts(ctr, backupDir) {
		ctr.VolumeMounts = append(ctr.VolumeMounts, corev1.VolumeMount{Name: "lifeboat-backup-dir", MountPath: backupDir})
		hp := corev1.HostPathDirectoryOrCreate
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: "lifeboat-backup-dir",
			VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: backupDir, Type: &hp}}})
	}
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[restorePodAnnotation] = "true"
	return yaml.Marshal(&pod)
}

// originalCommand renders the container's command line as a shell line that
// execs it. A "sh -c <script>" command yields the script itself.
func originalCommand(c *corev1.Container) string {
	argv := append(append([]string{}, c.Command...), c.Args...)
	if len(argv) >= 3 && (strings.HasSuffix(argv[0], "sh") || strings.HasSuffix(argv[0], "bash")) && argv[1] == "-c" {
		return argv[2]
	}
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = shellQuote(a)
	}
	return "exec " + strings.Join(quoted, " ")
}

func mounts(c *corev1.Container, dir string) bool {
	for _, m := range c.VolumeMounts {
		if strings.TrimSuffix(m.MountPath, "/") == dir {
			return true
		}
	}
	return false
}

// shellQuote quotes s for a POSIX shell unless it is plainly safe.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,@+%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
