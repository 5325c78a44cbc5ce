package backup

import (
	"slices"
	"testing"
)

// TestNameListsAreFresh: the lists a backup is made of cannot be changed
// by a caller (they were exported mutable slices before issue 12).
func TestNameListsAreFresh(t *testing.T) {
	for name, list := range map[string]func() []string{"Components": Components, "Operators": Operators} {
		t.Run(name, func(t *testing.T) {
			want := []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"}
			got := list()
			if !slices.Equal(got, want) {
				t.Fatalf("%s() = %v, want %v", name, got, want)
			}
			got[0] = "changed"
			if again := list(); !slices.Equal(again, want) {
				t.Fatalf("after a caller changed its copy, %s() = %v", name, again)
			}
		})
	}
}
