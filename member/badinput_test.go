package member

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/lifeboat-dev/lifeboat/internal/errtest"
)

// TestDeleteMemberSecretsBadInput: a cancelled context deletes nothing
// (it deleted all three secrets and returned nil), and a node that is not
// a node name is refused before any call.
func TestDeleteMemberSecretsBadInput(t *testing.T) {
	secret := func(name string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: etcdNamespace, Name: name}}
	}
	kube := kubefake.NewClientset(secret("etcd-peer-master-1"), secret("etcd-serving-master-1"), secret("etcd-serving-metrics-master-1"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	deleted, err := DeleteMemberSecrets(ctx, kube, "master-1")
	if !errors.Is(err, context.Canceled) || len(deleted) != 0 {
		t.Errorf("DeleteMemberSecrets(cancelled) = %v, %v; want context.Canceled and nothing deleted", deleted, err)
	}
	if n := len(kube.Actions()); n != 0 {
		t.Errorf("DeleteMemberSecrets(cancelled) made %d API calls: %v", n, kube.Actions())
	}
	second := func(_ any, err error) error { return err }
	var cases []errtest.Option
	for _, node := range []string{"../master-1", "master-1/x", "Master-1", "master-1\n", "master 1", "master-1\x00"} {
		cases = append(cases, errtest.Option{Name: node, Err: second(DeleteMemberSecrets(t.Context(), kube, node)), Want: "member.DeleteMemberSecrets node"})
	}
	errtest.OptionNames(t, cases)
	if n := len(kube.Actions()); n != 0 {
		t.Errorf("refused node names made %d API calls", n)
	}
}

// TestRecreateMachineCancelled: a context cancelled before the call
// deletes and creates no Machine (with a client that ignores ctx, the
// master's Machine was deleted and its replacement created).
func TestRecreateMachineCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	mc := fakeMachineAPI(t,
		machine("cl-master-0", "node-0", "stopped", "Running"),
		machine("cl-master-1", "node-1", "running", "Running"),
		machine("cl-master-2", "node-2", "running", "Running"))
	mc.ClearActions()
	if _, err := RecreateMachine(ctx, mc, "node-0", RecreateOptions{Logger: quiet}); !errors.Is(err, context.Canceled) {
		t.Errorf("RecreateMachine(cancelled) = %v, want context.Canceled", err)
	}
	if n := len(mc.Actions()); n != 0 {
		t.Errorf("RecreateMachine(cancelled) made %d API calls: %v", n, mc.Actions())
	}
}
