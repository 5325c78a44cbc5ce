package restore

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	operatorv1 "github.com/openshift/api/operator/v1"
	operatorfake "github.com/openshift/client-go/operator/clientset/versioned/fake"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/host/hosttest"
	"github.com/lifeboat-dev/lifeboat/plan"
	"github.com/lifeboat-dev/lifeboat/release"
)

type fixture struct {
	backupDir string
	roots     map[string]string
	kubelets  map[string]*hosttest.Kubelet // each master's, running its static pods
	hosts     map[string]host.Host
	// failRestarts makes the next n kubelet restarts of a master fail.
	failMu       sync.Mutex
	failRestarts map[string]int
	kube         *kubefake.Clientset
	ops          *operatorfake.Clientset
	peers        map[string]string
	snapRev      int64
	stamp        string            // of the backup
	files        map[string]string // the archive's files
}

var fixtureMasters = []string{"master-0", "master-1", "master-2"}

func etcdPodYAML(node, peer string, rev int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: etcd
  namespace: openshift-etcd
  labels:
    revision: "%d"
spec:
  containers:
  - name: etcd
    image: quay.io/example/etcd@sha256:abc
    command:
    - etcd
    - --name=%s
    - --data-dir=/var/lib/etcd
    - --initial-advertise-peer-urls=%s
    - --initial-cluster=master-0=https://10.0.0.10:2380,master-1=https://10.0.0.11:2380
    - --initial-cluster-state=existing
    env:
    - name: ETCD_NODE_NAME
      value: %s
`, rev, node, peer, node)
}

func podYAML(comp string, rev int) string {
	return fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  labels:\n    revision: \"%d\"\n", comp, rev)
}

// archive builds a static_kuberesources archive holding the given files.
func archive(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func writeFile(t *testing.T, p, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// restartKubelet fails while f.failRestarts counts down for the host.
func (f *fixture) restartKubelet(ctx context.Context, h host.Host) error {
	f.failMu.Lock()
	fail := f.failRestarts[h.Name()] > 0
	if fail {
		f.failRestarts[h.Name()]--
	}
	f.failMu.Unlock()
	if fail {
		return errors.New("injected: kubelet restart failed")
	}
	return h.RestartKubelet(ctx)
}

// newFixture lays out three master trees, a backup taken "from 4.5.2",
// and fake API clients with a fake operator that completes rollouts.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	snap, rev := makeSnapshot(t, 10)
	f := &fixture{
		backupDir:    filepath.Join(t.TempDir(), "backup"),
		roots:        map[string]string{},
		kubelets:     map[string]*hosttest.Kubelet{},
		hosts:        map[string]host.Host{},
		failRestarts: map[string]int{},
		peers:        map[string]string{},
		snapRev:      rev,
	}
	stamp := "2026-11-24_180000"
	snapBytes, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(f.backupDir, "snapshot_"+stamp+".db"), string(snapBytes))
	for i, n := range fixtureMasters {
		u := freeURL(t)
		f.peers[n] = u.String()
		_ = i
	}
	files := map[string]string{
		"static-pod-resources/etcd-pod-3/etcd-pod.yaml":                                       etcdPodYAML("master-0", f.peers["master-0"], 3),
		"static-pod-resources/etcd-pod-3/secrets/etcd-all-peer/peer.crt":                      "cert",
		"static-pod-resources/kube-apiserver-pod-7/kube-apiserver-pod.yaml":                   podYAML("kube-apiserver", 7),
		"static-pod-resources/kube-controller-manager-pod-6/kube-controller-manager-pod.yaml": podYAML("kube-controller-manager", 6),
		"static-pod-resources/kube-scheduler-pod-5/kube-scheduler-pod.yaml":                   podYAML("kube-scheduler", 5),
	}
	f.stamp, f.files = stamp, files
	writeFile(t, filepath.Join(f.backupDir, "static_kuberesources_"+stamp+".tar.gz"), string(archive(t, files)))
	writeManifest(t, f.backupDir, stamp, "4.5.2", rev)

	for _, n := range fixtureMasters {
		root := filepath.Join(t.TempDir(), n)
		f.roots[n] = root
		// The live cluster is at newer revisions than the backup.
		writeFile(t, filepath.Join(root, "etc/kubernetes/manifests/etcd-pod.yaml"), etcdPodYAML(n, f.peers[n], 4))
		writeFile(t, filepath.Join(root, "etc/kubernetes/manifests/kube-apiserver-pod.yaml"), podYAML("kube-apiserver", 8))
		writeFile(t, filepath.Join(root, "etc/kubernetes/manifests/kube-controller-manager-pod.yaml"), podYAML("kube-controller-manager", 6))
		writeFile(t, filepath.Join(root, "etc/kubernetes/manifests/kube-scheduler-pod.yaml"), podYAML("kube-scheduler", 5))
		writeFile(t, filepath.Join(root, "etc/kubernetes/static-pod-resources/kube-scheduler-pod-5/kube-scheduler-pod.yaml"), podYAML("kube-scheduler", 5))
		writeFile(t, filepath.Join(root, "etc/kubernetes/static-pod-resources/kube-apiserver-pod-7/kube-apiserver-pod.yaml"), "an older, different file\n")
		writeFile(t, filepath.Join(root, "var/lib/etcd/member/snap/db"), "old data of "+n)
		writeFile(t, filepath.Join(root, "var/lib/etcd/revision.json"), `{"maxRaftIndex":5000}`)
		d := hosttest.NewDir(n, root, hosttest.DirOptions{})
		f.kubelets[n] = d.Kubelet()
		f.hosts[n] = hosttest.Wrap(d, hosttest.Funcs{RestartKubelet: f.restartKubelet})
	}

	var objs []runtime.Object
	for _, n := range fixtureMasters {
		objs = append(objs,
			&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n, Labels: map[string]string{"node-role.kubernetes.io/master": ""}}},
			&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "etcd-" + n, Namespace: etcdNamespace}, Status: corev1.PodStatus{Phase: corev1.PodRunning}})
	}
	f.kube = kubefake.NewClientset(objs...)
	nodeStatuses := func(rev int32) []operatorv1.NodeStatus {
		var out []operatorv1.NodeStatus
		for _, n := range fixtureMasters {
			out = append(out, operatorv1.NodeStatus{NodeName: n, CurrentRevision: rev})
		}
		return out
	}
	status := func(rev int32) operatorv1.StaticPodOperatorStatus {
		return operatorv1.StaticPodOperatorStatus{
			NodeStatuses: nodeStatuses(rev),
			OperatorStatus: operatorv1.OperatorStatus{LatestAvailableRevision: rev, Conditions: []operatorv1.OperatorCondition{
				{Type: "NodeInstallerProgressing", Status: operatorv1.ConditionFalse, Reason: "AllNodesAtLatestRevision", Message: fmt.Sprintf("3 nodes are at revision %d", rev)},
				{Type: "EtcdMembersAvailable", Status: operatorv1.ConditionTrue, Message: "3 members are available"},
			}},
		}
	}
	meta := metav1.ObjectMeta{Name: "cluster"}
	f.ops = operatorfake.NewClientset(
		&operatorv1.Etcd{ObjectMeta: meta, Status: operatorv1.EtcdStatus{StaticPodOperatorStatus: status(4)}},
		&operatorv1.KubeAPIServer{ObjectMeta: meta, Status: operatorv1.KubeAPIServerStatus{StaticPodOperatorStatus: status(8)}},
		&operatorv1.KubeControllerManager{ObjectMeta: meta, Status: operatorv1.KubeControllerManagerStatus{StaticPodOperatorStatus: status(6)}},
		&operatorv1.KubeScheduler{ObjectMeta: meta, Status: operatorv1.KubeSchedulerStatus{StaticPodOperatorStatus: status(5)}},
	)
	// A fake operator: every new forceRedeploymentReason is rolled out as
	// a new revision on all nodes at once.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		seen := map[string]string{}
		for ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
			c := f.ops.OperatorV1()
			if o, err := c.Etcds().Get(ctx, "cluster", metav1.GetOptions{}); err == nil && o.Spec.ForceRedeploymentReason != seen["etcd"] {
				o.Status.StaticPodOperatorStatus = status(o.Status.LatestAvailableRevision + 1)
				if _, err := c.Etcds().UpdateStatus(ctx, o, metav1.UpdateOptions{}); err == nil {
					seen["etcd"] = o.Spec.ForceRedeploymentReason
				}
			}
			if o, err := c.KubeAPIServers().Get(ctx, "cluster", metav1.GetOptions{}); err == nil && o.Spec.ForceRedeploymentReason != seen["kas"] {
				o.Status.StaticPodOperatorStatus = status(o.Status.LatestAvailableRevision + 1)
				if _, err := c.KubeAPIServers().UpdateStatus(ctx, o, metav1.UpdateOptions{}); err == nil {
					seen["kas"] = o.Spec.ForceRedeploymentReason
				}
			}
			if o, err := c.KubeControllerManagers().Get(ctx, "cluster", metav1.GetOptions{}); err == nil && o.Spec.ForceRedeploymentReason != seen["kcm"] {
				o.Status.StaticPodOperatorStatus = status(o.Status.LatestAvailableRevision + 1)
				if _, err := c.KubeControllerManagers().UpdateStatus(ctx, o, metav1.UpdateOptions{}); err == nil {
					seen["kcm"] = o.Spec.ForceRedeploymentReason
				}
			}
			if o, err := c.KubeSchedulers().Get(ctx, "cluster", metav1.GetOptions{}); err == nil && o.Spec.ForceRedeploymentReason != seen["ks"] {
				o.Status.StaticPodOperatorStatus = status(o.Status.LatestAvailableRevision + 1)
				if _, err := c.KubeSchedulers().UpdateStatus(ctx, o, metav1.UpdateOptions{}); err == nil {
					seen["ks"] = o.Spec.ForceRedeploymentReason
				}
			}
		}
	}()
	return f
}

// writeManifest writes the backup.json backup.TakePlan would write for the
// backup of stamp in dir, from cluster version cv.
func writeManifest(t *testing.T, dir, stamp, cv string, rev int64) {
	t.Helper()
	file := func(name string) backup.ManifestFile {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		return backup.ManifestFile{Name: name, Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:])}
	}
	m := &backup.Manifest{Format: backup.ManifestFormat, Timestamp: stamp, ClusterVersion: cv, EtcdVersion: libraryEtcdVersion(), Revision: rev,
		Snapshot: file(backup.SnapshotFileName(stamp, false)), Resources: file(backup.ResourcesFileName(stamp, false))}
	if err := backup.WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
}

// archiveEntries are the fixture archive's files, in name order.
func (f *fixture) archiveEntries() []tarEntry {
	var out []tarEntry
	for n, b := range f.files {
		out = append(out, tarEntry{name: n, body: b})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// job is one call of Run or Plan as the tests build it, field by field:
// the deps, the options and the run options, embedded so that a test sets
// o.Kube, o.BackupDir or o.Report alike (the clocks: o.Options.Now,
// o.RunOptions.Now).
type job struct {
	Deps
	Options
	plan.RunOptions
}

func runJob(ctx context.Context, j job) (*StateData, error) {
	return Run(ctx, j.Deps, j.Options, j.RunOptions)
}

func planJob(j job) (*plan.Plan, error) { return Plan(j.Deps, j.Options) }

// quorumJob is job for the quorum restore.
type quorumJob struct {
	Deps
	QuorumRestoreOptions
	plan.RunOptions
}

func runQuorumJob(ctx context.Context, j quorumJob) (*StateData, error) {
	return RunQuorumRestore(ctx, j.Deps, j.QuorumRestoreOptions, j.RunOptions)
}

func quorumPlanJob(j quorumJob) (*plan.Plan, error) {
	return QuorumRestorePlan(j.Deps, j.QuorumRestoreOptions)
}

func (f *fixture) options(recovery string) job {
	o := job{Deps: Deps{
		InProcess: etcdutlWriter,
		Recovery:  f.hosts[recovery],
		Kube:      f.kube,
		Operator:  f.ops,
	}}
	o.Options = Options{
		BackupDir:      f.backupDir,
		ClusterVersion: "4.5.2",
		// The hosts carry revision.json (it sizes the bump), which only
		// 4.18+'s etcd-rev writes: the fixture states its release.
		Release:  release.Options{Version: "4.5.2"},
		Interval: 10 * time.Millisecond,
		// Deadlines catch hangs; a loaded machine must not reach them.
		APITimeout: 3 * time.Minute, ContainerTimeout: 2 * time.Minute, RolloutTimeout: 3 * time.Minute,
	}
	for _, n := range fixtureMasters {
		if n != recovery {
			o.Others = append(o.Others, f.hosts[n])
		}
	}
	return o
}

// snapshotTrees lists every file of every host tree with its content hash,
// to show that a refused restore changed nothing.
func (f *fixture) snapshotTrees(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, n := range fixtureMasters {
		b.WriteString(n + "{" + listTreeContent(t, f.roots[n]) + "}")
	}
	return b.String()
}

func listTreeContent(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		r, _ := filepath.Rel(root, p)
		b.WriteString(r + ":" + fi.Mode().String())
		if fi.Mode().IsRegular() {
			c, _ := os.ReadFile(p)
			fmt.Fprintf(&b, ":%x", c)
		}
		b.WriteString(";")
		return nil
	})
	return b.String()
}
