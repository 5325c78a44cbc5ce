package restore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/clustertest"
	"github.com/lifeboat-dev/lifeboat/clustertest/realnode"
	"github.com/lifeboat-dev/lifeboat/host"
)

// TestRestorePodOnRealNode runs lifeboat's restore pod on a real kubelet
// and containerd, placed by the plan's own steps: stop-static-pods moves
// a running etcd's etcd-pod.yaml aside and waits, through the real
// "crictl ps", for its containers to be gone; move-etcd-data moves its
// data aside; restore-snapshot (writeRestorePod) stages a lifeboat
// snapshot and writes the restore pod built from the moved etcd-pod.yaml
// into the manifest directory. The kubelet runs it: the image's etcdutl
// restores with the revision bump and mark-compacted, then etcd serves
// every key of the snapshot at the bumped revision, and older revisions
// are compacted. Moving the restore pod's manifest away stops it, seen
// the same way. Every path is under the node's root (paths are data).
func TestRestorePodOnRealNode(t *testing.T) {
	b := realnode.SkipUnavailable(t)
	c := clustertest.Start(t, clustertest.Options{Masters: 1, Workers: -1})
	n := realnode.Start(t, c, realnode.Options{Binaries: &b})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	for k, v := range n.CrictlEnv() {
		t.Setenv(k, v) // host.Local runs "crictl ps --name <n> -o json" as on a master
	}
	h := host.NewLocal(n.Name(), "/", host.LocalOptions{})

	// A lifeboat snapshot of the cluster's etcd, with keys of our own.
	src, err := c.EtcdClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if _, err := src.Put(ctx, fmt.Sprintf("/lifeboat-test/key-%02d", i), "value-"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	backupDir := t.TempDir()
	snap, err := backup.Snapshot(ctx, src, backupDir, backup.SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	info, _, err := inspectSnapshot(ctx, snap.Path, false)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	resp, err := src.Get(ctx, "\x00", clientv3.WithFromKey(), clientv3.WithRev(info.Revision))
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range resp.Kvs {
		want[string(kv.Key)] = string(kv.Value)
	}
	if want["/lifeboat-test/key-49"] != "value-49" {
		t.Fatalf("the snapshot's revision %d misses our keys", info.Revision)
	}

	// An etcd static pod as the cluster's: same paths inside and outside,
	// host network, the node's IP.
	peerPort, clientPort := freePort(t, n.IP()), freePort(t, n.IP())
	peerURL := "http://" + net.JoinHostPort(n.IP(), strconv.Itoa(peerPort))
	clientURL := "http://" + net.JoinHostPort(n.IP(), strconv.Itoa(clientPort))
	dataDir := n.Path("var/lib/etcd")
	o := Options{
		ManifestDir: n.ManifestDir(), ConfigDir: n.Path("etc/kubernetes"), EtcdDataDir: dataDir,
		EtcdBackupDir: n.Path("var/lib/etcd-backup"), AsideDir: n.Path("var/lib/lifeboat-aside"),
		Interval: 250 * time.Millisecond, ContainerTimeout: 3 * time.Minute,
		Now: time.Now, // the runner is built here, not by Plan, which sets the defaults
	}
	st := newState(h, n.Path("var/lib/lifeboat-state.json"))
	st.now = time.Now
	r := &runner{deps: Deps{InProcess: etcdutlWriter, Recovery: h}, opts: o, state: st, log: slog.New(slog.DiscardHandler), local: h}
	progress := func(s string) { t.Log(s) }

	etcdPod := etcdPodManifest(t, n.Name(), dataDir, peerURL, clientURL)
	if err := os.WriteFile(filepath.Join(n.ManifestDir(), "etcd-pod.yaml"), etcdPod, 0o644); err != nil {
		t.Fatal(err)
	}
	old := etcdAt(ctx, t, clientURL)
	if _, err := old.Put(ctx, "/written-after-the-backup", "lost by the restore"); err != nil {
		t.Fatal(err)
	}
	old.Close()
	if cs, err := h.Containers(ctx, "etcd"); err != nil || len(cs) != 1 || cs[0].State != "Running" {
		t.Fatalf("crictl ps --name etcd = %+v, %v; want the etcd container running", cs, err)
	}

	// stop-static-pods and move-etcd-data, as the plan runs them.
	began := time.Now()
	if err := r.stopComponents(ctx, h, "stop-static-pods/"+h.Name(), []string{"etcd"}, progress); err != nil {
		t.Fatal(err)
	}
	t.Logf("etcd containers gone %v after its manifest moved", time.Since(began).Round(time.Millisecond))
	if cs, err := h.Containers(ctx, "etcd"); err != nil || len(cs) != 0 {
		t.Fatalf("after the wait, crictl ps --name etcd = %+v, %v", cs, err)
	}
	if err := r.moveOtherData(ctx, h, progress); err != nil {
		t.Fatal(err)
	}

	// restore-snapshot: the restore pod, from the moved etcd-pod.yaml.
	id := memberIdentity{Name: n.Name(), PeerURL: peerURL}
	token := "openshift-etcd-" + randomHex(8)
	if err := st.Update(ctx, func(d *StateData) {
		d.Restore = &RestoreRecord{Method: RestorePod, Member: id.Name, PeerURL: id.PeerURL, ClusterToken: token}
	}); err != nil {
		t.Fatal(err)
	}
	d, err := st.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec := &BackupRecord{Dir: backupDir, Snapshot: filepath.Base(snap.Path), Revision: info.Revision}
	began = time.Now()
	if err := r.writeRestorePod(ctx, h, rec, d, id, token, "", progress); err != nil {
		t.Fatal(err)
	}
	if d, err = st.Get(ctx); err != nil {
		t.Fatal(err)
	}
	bump := d.Restore.RevisionBump
	if bump == 0 {
		t.Fatal("no revision bump recorded")
	}
	restored := etcdAt(ctx, t, clientURL)
	defer restored.Close()
	t.Logf("restored etcd serving %v after the restore pod was written (bump %d)", time.Since(began).Round(time.Millisecond), bump)

	got, err := restored.Get(ctx, "\x00", clientv3.WithFromKey())
	if err != nil {
		t.Fatal(err)
	}
	if wantRev := info.Revision + int64(bump); got.Header.Revision != wantRev {
		t.Errorf("revision %d, want the snapshot's %d + bump %d = %d", got.Header.Revision, info.Revision, bump, wantRev)
	}
	if d.Restore.NewRevision != got.Header.Revision {
		t.Errorf("state records new revision %d, etcd serves %d", d.Restore.NewRevision, got.Header.Revision)
	}
	served := map[string]string{}
	for _, kv := range got.Kvs {
		served[string(kv.Key)] = string(kv.Value)
	}
	for k, v := range want {
		if served[k] != v {
			t.Errorf("key %s = %q, want %q", k, served[k], v)
		}
	}
	if len(served) != len(want) {
		t.Errorf("%d keys served, the snapshot has %d", len(served), len(want))
	}
	if _, err := restored.Get(ctx, "/lifeboat-test/key-00", clientv3.WithRev(info.Revision)); !errors.Is(err, rpctypes.ErrCompacted) {
		t.Errorf("read at the snapshot's revision = %v, want ErrCompacted (mark-compacted)", err)
	}
	if _, err := os.Stat(filepath.Join(o.EtcdBackupDir, "snapshot.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("staged snapshot after the restore: %v, want it consumed", err)
	}
	mirror, err := c.Kube.CoreV1().Pods("openshift-etcd").Get(ctx, "etcd-"+n.Name(), metav1.GetOptions{})
	if err != nil || mirror.Annotations[restorePodAnnotation] != "true" {
		t.Errorf("mirror pod of the restore pod: %v", err)
	}

	// The restore pod stops like any static pod, seen the same way.
	if err := r.stopComponents(ctx, h, "stop-restore-pod/"+h.Name(), []string{"etcd"}, progress); err != nil {
		t.Fatal(err)
	}
	if d, err := st.Get(ctx); err != nil || path.Dir(movedTo(d, h.Name(), path.Join(o.ManifestDir, "etcd-pod.yaml"))) != path.Join(o.AsideDir, "manifests") {
		t.Errorf("the restore pod's manifest was not moved aside: %v", err)
	}
}

// etcdPodManifest is a static etcd pod in the shape of the cluster's
// etcd-pod.yaml: container "etcd" running etcd from realnode.EtcdImage,
// the data directory a hostPath at the same path inside.
func etcdPodManifest(t *testing.T, name, dataDir, peerURL, clientURL string) []byte {
	t.Helper()
	dirOrCreate := corev1.HostPathDirectoryOrCreate
	pod := corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "etcd", Namespace: "openshift-etcd", Labels: map[string]string{"app": "etcd"}},
		Spec: corev1.PodSpec{
			HostNetwork: true,
			Containers: []corev1.Container{{
				Name: "etcd", Image: realnode.EtcdImage, ImagePullPolicy: corev1.PullNever,
				Command: []string{"etcd", "--name=" + name, "--data-dir=" + dataDir,
					"--listen-peer-urls=" + peerURL, "--initial-advertise-peer-urls=" + peerURL,
					"--listen-client-urls=" + clientURL, "--advertise-client-urls=" + clientURL,
					"--initial-cluster=" + name + "=" + peerURL},
				VolumeMounts: []corev1.VolumeMount{{Name: "data-dir", MountPath: dataDir}},
			}},
			Volumes: []corev1.Volume{{Name: "data-dir", VolumeSource: corev1.VolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: dataDir, Type: &dirOrCreate}}}},
		},
	}
	b, err := yaml.Marshal(&pod)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// etcdAt waits until the etcd at url answers a read and returns a client.
func etcdAt(ctx context.Context, t *testing.T, url string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{url}, DialTimeout: 5 * time.Second, Logger: nil})
	if err != nil {
		t.Fatal(err)
	}
	for {
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, err := cli.Get(rctx, "health")
		cancel()
		if err == nil {
			return cli
		}
		select {
		case <-ctx.Done():
			cli.Close()
			t.Fatalf("etcd at %s never answered: %v", url, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func freePort(t *testing.T, ip string) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
