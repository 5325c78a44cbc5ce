package offsite_test

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"filippo.io/age"
	configv1 "github.com/openshift/api/config/v1"
	configfake "github.com/openshift/client-go/config/clientset/versioned/fake"
	clientv3 "go.etcd.io/etcd/client/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/clustertest"
	"github.com/lifeboat-dev/lifeboat/host/hosttest"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// realEtcd starts a one-member etcd holding about mib MiB of random
// (incompressible) values and 2000 small compressible ones.
func realEtcd(t *testing.T, mib int) *clientv3.Client {
	t.Helper()
	if _, err := clustertest.FindBinaries(); err != nil {
		t.Skipf("etcd binaries missing (run hack/tools.sh): %v", err)
	}
	c := clustertest.StartEtcd(t, clustertest.EtcdOptions{Members: 1})
	cli, err := c.Client(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	val := make([]byte, 256<<10)
	for i := range mib * 4 {
		rand.Read(val)
		if _, err := cli.Put(t.Context(), fmt.Sprintf("/big/%05d", i), string(val)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2000 {
		if _, err := cli.Put(t.Context(), fmt.Sprintf("/registry/configmaps/ns/cm-%05d", i), `{"kind":"ConfigMap","data":{"a":"b"}}`); err != nil {
			t.Fatal(err)
		}
	}
	return cli
}

// takeBackup runs backup.TakePlan on cli with a fake healthy 4.5.2 cluster
// and a master tree, at the time at, into a new directory.
func takeBackup(t *testing.T, cli *clientv3.Client, at time.Time) *backup.Backup {
	t.Helper()
	root := t.TempDir()
	for _, c := range backup.Components() {
		res := filepath.Join(root, "etc/kubernetes/static-pod-resources", c+"-pod-7")
		write(t, filepath.Join(res, c+"-pod.yaml"), "kind: Pod\n")
		write(t, filepath.Join(res, "secrets/encryption-config/encryption-config"), "not a real key\n")
		write(t, filepath.Join(root, "etc/kubernetes/manifests", c+"-pod.yaml"), "kind: Pod\nmetadata:\n  labels:\n    revision: \"7\"\n")
	}
	dir := filepath.Join(t.TempDir(), "backup")
	b := new(backup.Backup)
	take, err := backup.TakePlan(backup.TakeDeps{Etcd: cli, Host: hosttest.NewDir("master-0", root, hosttest.DirOptions{}), Config: healthyConfig(at)},
		backup.TakeOptions{Dir: dir, Now: func() time.Time { return at }, Result: b})
	if err == nil {
		err = take.Run(t.Context(), plan.RunOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func healthyConfig(at time.Time) *configfake.Clientset {
	var objs []runtime.Object
	for _, name := range backup.Operators() {
		co := &configv1.ClusterOperator{ObjectMeta: metav1.ObjectMeta{Name: name}}
		co.Status.Conditions = []configv1.ClusterOperatorStatusCondition{
			{Type: configv1.OperatorAvailable, Status: configv1.ConditionTrue},
			{Type: configv1.OperatorProgressing, Status: configv1.ConditionFalse},
		}
		objs = append(objs, co)
	}
	installed := metav1.NewTime(at.Add(-72 * time.Hour))
	cv := &configv1.ClusterVersion{ObjectMeta: metav1.ObjectMeta{Name: "version", CreationTimestamp: installed}}
	cv.Status.History = []configv1.UpdateHistory{{State: configv1.CompletedUpdate, Version: "4.5.2", StartedTime: installed, CompletionTime: &installed}}
	as := &configv1.APIServer{ObjectMeta: metav1.ObjectMeta{Name: "cluster"}}
	as.Spec.Encryption.Type = configv1.EncryptionTypeAESCBC
	objs = append(objs, cv, &configv1.Proxy{ObjectMeta: metav1.ObjectMeta{Name: "cluster"}}, as)
	return configfake.NewClientset(objs...)
}

func write(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// newIdentity is a fresh age X25519 key pair.
func newIdentity(t *testing.T) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// sameFile fails unless a and b have the same content.
func sameFile(t *testing.T, a, b string) {
	t.Helper()
	ab, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	bb, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if string(ab) != string(bb) {
		t.Errorf("%s (%d bytes) differs from %s (%d bytes)", b, len(bb), a, len(ab))
	}
}

// tree lists a directory recursively with sizes and modes.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			out = append(out, p+": "+err.Error())
			return nil
		}
		out = append(out, fmt.Sprintf("%s %v %d", p, fi.Mode(), fi.Size()))
		return nil
	})
	sort.Strings(out)
	return out
}

// byteEvents collects the byte reports of the offsite call run with the
// context it returns (plan.WithReport), keyed by transfer: the message.
type byteEvents struct {
	order  []string
	events map[string][]plan.Event
	other  []plan.Event
}

func collectBytes(t *testing.T) (*byteEvents, func(plan.Event)) {
	t.Helper()
	b := &byteEvents{events: map[string][]plan.Event{}}
	return b, func(e plan.Event) {
		if e.BytesDone == 0 && e.BytesTotal == 0 {
			b.other = append(b.other, e)
			return
		}
		if _, ok := b.events[e.Message]; !ok {
			b.order = append(b.order, e.Message)
		}
		b.events[e.Message] = append(b.events[e.Message], e)
	}
}

// check asserts that the transfers reported are exactly want (message →
// final size in bytes), each once: Progress events whose bytes never go
// back, the last one done == total == its size, and at most one event per
// MiB and three more: the first, the one reaching a total that was an
// estimate (a snapshot's database size, its sha256 trailer still to
// come), and the end (a transfer reported twice, or per small write,
// fails).
func (b *byteEvents) check(t *testing.T, want map[string]int64) {
	t.Helper()
	for _, msg := range b.order {
		if _, ok := want[msg]; !ok {
			t.Errorf("unexpected transfer %q (%d events)", msg, len(b.events[msg]))
		}
	}
	for msg, size := range want {
		evs := b.events[msg]
		if len(evs) == 0 {
			t.Errorf("no byte event for %q; transfers reported: %q", msg, b.order)
			continue
		}
		prev := int64(-1)
		for _, e := range evs {
			if e.Status != plan.Progress || e.BytesDone < prev {
				t.Errorf("%q: event %+v after %d bytes", msg, e, prev)
			}
			prev = e.BytesDone
		}
		if last := evs[len(evs)-1]; last.BytesDone != size || last.BytesTotal != size {
			t.Errorf("%q: last event %d of %d bytes, want %d of %d", msg, last.BytesDone, last.BytesTotal, size, size)
		}
		if max := size>>20 + 3; int64(len(evs)) > max {
			t.Errorf("%q: %d events for %d bytes, want at most %d", msg, len(evs), size, max)
		}
	}
}
