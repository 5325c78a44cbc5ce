package host

import (
	"testing"

	"github.com/lifeboat-dev/lifeboat/internal/depcheck"
)

// TestHostStaysLight: host.Local and host.SSH users do not build client-go
// or the Kubernetes API types; the debug-pod host, which needs them, is in
// package host/debugpod.
func TestHostStaysLight(t *testing.T) {
	depcheck.Forbid(t, ".", "k8s.io/", "github.com/openshift/", "go.etcd.io/")
}
