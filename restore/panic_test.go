package restore

import (
	"errors"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/lifeboat-dev/lifeboat"
)

// TestServerVersionRecoversAPanic: a kube client whose ServerVersion
// panics, on the goroutine serverVersion starts, fails the check instead
// of the process.
func TestServerVersionRecoversAPanic(t *testing.T) {
	kube := fake.NewClientset()
	kube.PrependReactor("get", "version", func(clienttesting.Action) (bool, runtime.Object, error) {
		panic("fake discovery broke")
	})
	_, err := serverVersion(t.Context(), kube)
	var pe *lifeboat.PanicError
	if !errors.Is(err, lifeboat.ErrPanicked) || !errors.As(err, &pe) || pe.Value != "fake discovery broke" {
		t.Fatalf("serverVersion = %v, want the discovery client's panic", err)
	}
}
