package member

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	machinev1beta1 "github.com/openshift/api/machine/v1beta1"
	machinefake "github.com/openshift/client-go/machine/clientset/versioned/fake"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	"github.com/lifeboat-dev/lifeboat/plan"
)

func secret(name string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: etcdNamespace}, Type: corev1.SecretTypeTLS}
}

func TestDeleteMemberSecrets(t *testing.T) {
	node := "ip-10-0-131-183.ec2.internal"
	tests := []struct {
		name    string
		objects []runtime.Object
		want    []string
	}{
		{"all three", []runtime.Object{secret("etcd-peer-" + node), secret("etcd-serving-" + node), secret("etcd-serving-metrics-" + node), secret("etcd-peer-other")},
			[]string{"etcd-peer-" + node, "etcd-serving-" + node, "etcd-serving-metrics-" + node}},
		{"only metrics left", []runtime.Object{secret("etcd-serving-metrics-" + node)}, []string{"etcd-serving-metrics-" + node}},
		{"none left", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kube := kubefake.NewClientset(tc.objects...)
			got, err := DeleteMemberSecrets(t.Context(), kube, node)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("deleted %q, want %q", got, tc.want)
			}
			left, _ := kube.CoreV1().Secrets(etcdNamespace).List(t.Context(), metav1.ListOptions{})
			for _, s := range left.Items {
				if strings.HasSuffix(s.Name, node) {
					t.Errorf("secret %s still there", s.Name)
				}
			}
			again, err := DeleteMemberSecrets(t.Context(), kube, node)
			if err != nil || len(again) != 0 {
				t.Fatalf("second call deleted %q, %v", again, err)
			}
		})
	}
	kube := kubefake.NewClientset(secret("etcd-peer-" + node))
	kube.PrependReactor("delete", "secrets", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "x", errors.New("no"))
	})
	if _, err := DeleteMemberSecrets(t.Context(), kube, node); !apierrors.IsForbidden(err) {
		t.Fatalf("err = %v, want Forbidden", err)
	}
}

func TestNewMachineFrom(t *testing.T) {
	old := machine("clustername-8qw5l-master-0", "ip-10-0-131-183.ec2.internal", "stopped", "Running")
	old.SelfLink = "/apis/machine.openshift.io/v1beta1/namespaces/openshift-machine-api/machines/clustername-8qw5l-master-0"
	old.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "x"}}
	old.CreationTimestamp = metav1.Now()
	all := []machinev1beta1.Machine{*old, *machine("clustername-8qw5l-master-1", "b", "running", "Running"), *machine("clustername-8qw5l-master-2", "c", "running", "Running"),
		*machine("clustername-8qw5l-worker-us-east-1a-wbtgd", "w", "running", "Running")}
	name := nextMachineName(old.Name, all)
	if name != "clustername-8qw5l-master-3" {
		t.Fatalf("next name %q, want clustername-8qw5l-master-3", name)
	}
	m := newMachineFrom(old, name)
	b, err := machineYAML(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{"status:", "providerID", "instance-state", "generation", "resourceVersion", "uid:", "selfLink", "managedFields", "creationTimestamp"} {
		if strings.Contains(string(b), gone) {
			t.Errorf("new machine still has %s:\n%s", gone, b)
		}
	}
	if m.Labels["machine.openshift.io/cluster-api-machine-role"] != "master" || m.Annotations[annotationReplacesMachine] != old.Name {
		t.Errorf("labels/annotations lost: %v %v", m.Labels, m.Annotations)
	}
	for _, tc := range []struct{ old, want string }{{"master-7", "master-8"}, {"nonumber", "nonumber-0"}} {
		if got := nextMachineName(tc.old, nil); got != tc.want {
			t.Errorf("nextMachineName(%s) = %s, want %s", tc.old, got, tc.want)
		}
	}
}

// fakeMachineAPI plays the machine controller: created Machines become
// Provisioning, then Running with a node.
func fakeMachineAPI(t *testing.T, objs ...runtime.Object) *machinefake.Clientset {
	t.Helper()
	mc := machinefake.NewClientset(objs...)
	var mu sync.Mutex
	mc.PrependReactor("create", "machines", func(a clienttesting.Action) (bool, runtime.Object, error) {
		m := a.(clienttesting.CreateAction).GetObject().(*machinev1beta1.Machine).DeepCopy()
		m.Status.Phase = ptr("Provisioning")
		go func() {
			time.Sleep(20 * time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			cur, err := mc.MachineV1beta1().Machines(m.Namespace).Get(t.Context(), m.Name, metav1.GetOptions{})
			if err != nil {
				return
			}
			cur.Status.Phase = ptr("Running")
			cur.Status.NodeRef = &corev1.ObjectReference{Kind: "Node", Name: "new-node-for-" + m.Name}
			mc.MachineV1beta1().Machines(m.Namespace).UpdateStatus(t.Context(), cur, metav1.UpdateOptions{})
		}()
		return true, m, mc.Tracker().Create(a.GetResource(), m, m.Namespace)
	})
	return mc
}

func TestRecreateMachine(t *testing.T) {
	ctx := t.Context()
	mc := fakeMachineAPI(t,
		machine("cl-master-0", "node-0", "stopped", "Running"),
		machine("cl-master-1", "node-1", "running", "Running"),
		machine("cl-master-2", "node-2", "running", "Running"))
	dir := t.TempDir()
	var progress []string
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	res, err := RecreateMachine(plan.WithReport(ctx, func(e plan.Event) { progress = append(progress, e.Message) }), mc, "node-0",
		RecreateOptions{SaveDir: dir, Interval: 10 * time.Millisecond, Logger: quiet, Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	if res.OldName != "cl-master-0" || res.New.Name != "cl-master-3" || res.NewNode != "new-node-for-cl-master-3" || res.Resumed {
		t.Fatalf("result old %s new %s node %s resumed %v", res.OldName, res.New.Name, res.NewNode, res.Resumed)
	}
	if _, err := mc.MachineV1beta1().Machines(machineNamespace).Get(ctx, "cl-master-0", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("old machine still there: %v", err)
	}
	// The finished replacement's file is kept under a name no run resumes.
	if _, err := os.Stat(filepath.Join(dir, newMachineFile)); !os.IsNotExist(err) {
		t.Fatalf("%s still live after the replacement finished: %v", newMachineFile, err)
	}
	done, _ := filepath.Glob(filepath.Join(dir, "new-master-machine.done-*.yaml"))
	if len(done) != 1 || filepath.Base(done[0]) != "new-master-machine.done-20260304T050607Z.yaml" {
		t.Fatalf("retired saved machine: %v, want it named by the Now clock", done)
	}
	saved, err := os.ReadFile(done[0])
	if err != nil || !strings.Contains(string(saved), "name: cl-master-3") || strings.Contains(string(saved), "providerID") {
		t.Fatalf("saved %s: %v\n%s", newMachineFile, err, saved)
	}
	if _, err := os.Stat(filepath.Join(dir, "cl-master-0.yaml")); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(progress, "machine cl-master-3 is Running") {
		t.Fatalf("progress %q", progress)
	}

	// Re-run: the old machine is gone, the new one is found and waited for.
	again, err := RecreateMachine(ctx, mc, "node-0", RecreateOptions{Interval: 10 * time.Millisecond, Logger: quiet})
	if err != nil || !again.Resumed || again.New.Name != "cl-master-3" {
		t.Fatalf("re-run: %+v, %v", again, err)
	}
	list, _ := mc.MachineV1beta1().Machines(machineNamespace).List(ctx, metav1.ListOptions{})
	if len(list.Items) != 3 {
		t.Fatalf("%d machines after re-run, want 3", len(list.Items))
	}

	// The replacement's own node fails later: it is replaced in turn.
	third, err := RecreateMachine(ctx, mc, "new-node-for-cl-master-3", RecreateOptions{Interval: 10 * time.Millisecond, Logger: quiet})
	if err != nil || third.OldName != "cl-master-3" || third.New.Name != "cl-master-4" || third.Resumed {
		t.Fatalf("replacing the replacement: %+v, %v", third, err)
	}
}

// TestRecreateMachineDoesNotReuseFinishedRunsFile: the saved Machine of a
// finished replacement of node-0 must not be created again by a later
// replacement of a node of the same name that has no Machine.
func TestRecreateMachineDoesNotReuseFinishedRunsFile(t *testing.T) {
	ctx := t.Context()
	mc := fakeMachineAPI(t,
		machine("cl-master-0", "node-0", "stopped", "Running"),
		machine("cl-master-1", "node-1", "running", "Running"))
	dir := t.TempDir()
	opts := RecreateOptions{SaveDir: dir, Interval: 10 * time.Millisecond, Logger: quiet}
	first, err := RecreateMachine(ctx, mc, "node-0", opts)
	if err != nil {
		t.Fatal(err)
	}
	// Later the replacement is gone, and a host named node-0 again has
	// no Machine.
	if err := mc.MachineV1beta1().Machines(machineNamespace).Delete(ctx, first.New.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = RecreateMachine(ctx, mc, "node-0", opts)
	if !errors.Is(err, ErrNoMachine) {
		t.Fatalf("err = %v, want ErrNoMachine (not a Machine re-created from the finished run's file)", err)
	}
	if _, err := mc.MachineV1beta1().Machines(machineNamespace).Get(ctx, first.New.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the finished replacement's Machine was created again: %v", err)
	}
}

func TestRecreateMachineResumesFromSavedFile(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	desired := newMachineFrom(machine("cl-master-0", "node-0", "stopped", "Running"), "cl-master-3")
	b, _ := yaml.Marshal(desired)
	if err := os.WriteFile(filepath.Join(dir, newMachineFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	// Crashed between delete and create: neither machine exists.
	mc := fakeMachineAPI(t, machine("cl-master-1", "node-1", "running", "Running"))
	res, err := RecreateMachine(ctx, mc, "node-0", RecreateOptions{SaveDir: dir, Interval: 10 * time.Millisecond, Logger: quiet})
	if err != nil || res.New.Name != "cl-master-3" || !res.Resumed {
		t.Fatalf("%+v, %v", res, err)
	}
}

func TestRecreateMachineWithoutMachineAPI(t *testing.T) {
	mc := machinefake.NewClientset(machine("cl-master-1", "node-1", "running", "Running"))
	_, err := RecreateMachine(t.Context(), mc, "node-0", RecreateOptions{Logger: quiet})
	var nm *NoMachineError
	if !errors.Is(err, ErrNoMachine) || !errors.As(err, &nm) || !strings.Contains(err.Error(), "same way the original one was created") {
		t.Fatalf("err = %v", err)
	}
}

func TestRecreateMachineFailedPhase(t *testing.T) {
	mc := machinefake.NewClientset(machine("cl-master-0", "node-0", "stopped", "Running"))
	mc.PrependReactor("create", "machines", func(a clienttesting.Action) (bool, runtime.Object, error) {
		m := a.(clienttesting.CreateAction).GetObject().(*machinev1beta1.Machine).DeepCopy()
		m.Status.Phase, m.Status.ErrorMessage = ptr("Failed"), ptr("no capacity")
		return true, m, mc.Tracker().Create(a.GetResource(), m, m.Namespace)
	})
	_, err := RecreateMachine(t.Context(), mc, "node-0", RecreateOptions{Interval: 10 * time.Millisecond, Logger: quiet})
	if err == nil || !strings.Contains(err.Error(), "no capacity") {
		t.Fatalf("err = %v", err)
	}
}
