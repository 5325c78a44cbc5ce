package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	operatorv1 "github.com/openshift/api/operator/v1"
	operatorfake "github.com/openshift/client-go/operator/clientset/versioned/fake"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	clienttesting "k8s.io/client-go/testing"
)

func etcdWithOverrides(raw string) *operatorv1.Etcd {
	e := &operatorv1.Etcd{ObjectMeta: metav1.ObjectMeta{Name: objectName, ResourceVersion: "7"}}
	if raw != "" {
		e.Spec.UnsupportedConfigOverrides = runtime.RawExtension{Raw: []byte(raw)}
	}
	return e
}

func overridesOf(t *testing.T, ctx context.Context, ops *operatorfake.Clientset) map[string]any {
	t.Helper()
	e, err := ops.OperatorV1().Etcds().Get(ctx, objectName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Spec.UnsupportedConfigOverrides.Raw) == 0 {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(e.Spec.UnsupportedConfigOverrides.Raw, &m); err != nil {
		t.Fatalf("overrides %s: %v", e.Spec.UnsupportedConfigOverrides.Raw, err)
	}
	return m
}

// TestQuorumGuardToggle turns the guard off and back on from every
// starting point: other override keys survive both patches, and a guard
// that was already off stays off.
func TestQuorumGuardToggle(t *testing.T) {
	cases := []struct {
		name        string
		overrides   string
		wasOff      bool
		wantPatched bool
		after       map[string]any // the overrides after the restore
	}{
		{"no overrides", "", false, true, map[string]any{}},
		{"null overrides", "null", false, true, map[string]any{}},
		{"other keys kept", `{"foo":{"bar":1},"useUnsupportedNonProductionUnstableStorageEtcd":true}`, false, true,
			map[string]any{"foo": map[string]any{"bar": float64(1)}, "useUnsupportedNonProductionUnstableStorageEtcd": true}},
		{"already off (bool)", `{"useUnsupportedUnsafeNonHANonProductionUnstableEtcd":true,"x":"y"}`, true, false,
			map[string]any{QuorumGuardOverride: true, "x": "y"}},
		{"already off (string)", `{"useUnsupportedUnsafeNonHANonProductionUnstableEtcd":"true"}`, true, false,
			map[string]any{QuorumGuardOverride: "true"}},
		{"explicitly on (false) stays false", `{"useUnsupportedUnsafeNonHANonProductionUnstableEtcd":false}`, false, true,
			map[string]any{QuorumGuardOverride: false}},
		{"unparsable string is on", `{"useUnsupportedUnsafeNonHANonProductionUnstableEtcd":"maybe"}`, false, true,
			map[string]any{QuorumGuardOverride: "maybe"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			ops := operatorfake.NewClientset(etcdWithOverrides(tc.overrides))
			prev, patched, err := DisableQuorumGuard(ctx, ops, QuorumGuardOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if prev.Disabled() != tc.wasOff || patched != tc.wantPatched {
				t.Errorf("Disable: prev %s (off %v), patched %v; want off %v patched %v", prev, prev.Disabled(), patched, tc.wasOff, tc.wantPatched)
			}
			g, err := ReadQuorumGuard(ctx, ops)
			if err != nil || !g.Disabled() {
				t.Fatalf("after Disable: %s, %v; want the guard off", g, err)
			}
			// Other keys survive the disable.
			during := overridesOf(t, ctx, ops)
			for k, v := range tc.after {
				if k == QuorumGuardOverride {
					continue
				}
				if b1, _ := json.Marshal(during[k]); string(b1) != mustJSON(v) {
					t.Errorf("while off, key %s = %s, want %s", k, b1, mustJSON(v))
				}
			}
			// A record that went through JSON restores the same.
			b, _ := json.Marshal(prev)
			var rec QuorumGuard
			if err := json.Unmarshal(b, &rec); err != nil {
				t.Fatal(err)
			}
			if _, err := RestoreQuorumGuard(ctx, ops, rec, QuorumGuardOptions{}); err != nil {
				t.Fatal(err)
			}
			got := overridesOf(t, ctx, ops)
			if got == nil {
				got = map[string]any{}
			}
			if mustJSON(got) != mustJSON(tc.after) {
				t.Errorf("after Restore overrides = %s, want %s", mustJSON(got), mustJSON(tc.after))
			}
			g, _ = ReadQuorumGuard(ctx, ops)
			if g.Disabled() != tc.wasOff {
				t.Errorf("after Restore the guard is off=%v, want off=%v (as found)", g.Disabled(), tc.wasOff)
			}
			// Restoring again patches nothing.
			if p, err := RestoreQuorumGuard(ctx, ops, rec, QuorumGuardOptions{}); err != nil || p {
				t.Errorf("second Restore: patched %v, %v", p, err)
			}
		})
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestQuorumGuardErrors: overrides that are not an object are refused
// untouched; a missing object is the API's NotFound; a conflict is retried.
func TestQuorumGuardErrors(t *testing.T) {
	t.Run("overrides not an object", func(t *testing.T) {
		ops := operatorfake.NewClientset(etcdWithOverrides(`[1,2]`))
		_, _, err := DisableQuorumGuard(t.Context(), ops, QuorumGuardOptions{})
		if !errors.Is(err, ErrInvalidOverrides) {
			t.Fatalf("err = %v, want ErrInvalidOverrides", err)
		}
		for _, a := range ops.Actions() {
			if a.GetVerb() == "patch" {
				t.Errorf("patched despite invalid overrides: %v", a)
			}
		}
	})
	t.Run("no etcd object", func(t *testing.T) {
		_, _, err := DisableQuorumGuard(t.Context(), operatorfake.NewClientset(), QuorumGuardOptions{})
		if !apierrors.IsNotFound(err) {
			t.Fatalf("err = %v, want NotFound", err)
		}
	})
	t.Run("conflict retried", func(t *testing.T) {
		ops := operatorfake.NewClientset(etcdWithOverrides(""))
		conflicts := 2
		ops.PrependReactor("patch", "etcds", func(a clienttesting.Action) (bool, runtime.Object, error) {
			if conflicts > 0 {
				conflicts--
				return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "operator.openshift.io", Resource: "etcds"}, objectName, errors.New("changed"))
			}
			return false, nil, nil
		})
		_, patched, err := DisableQuorumGuard(t.Context(), ops, QuorumGuardOptions{Backoff: wait.Backoff{Steps: 5, Duration: 1}})
		if err != nil || !patched || conflicts != 0 {
			t.Fatalf("patched %v err %v conflicts left %d", patched, err, conflicts)
		}
		if g, _ := ReadQuorumGuard(t.Context(), ops); !g.Disabled() {
			t.Errorf("guard not off after retried conflicts: %s", g)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		ops := operatorfake.NewClientset(etcdWithOverrides(""))
		ops.PrependReactor("get", "etcds", func(a clienttesting.Action) (bool, runtime.Object, error) {
			return true, nil, context.Canceled
		})
		if _, _, err := DisableQuorumGuard(ctx, ops, QuorumGuardOptions{}); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}
