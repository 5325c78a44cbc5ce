package restore

import (
	"testing"

	"github.com/lifeboat-dev/lifeboat/internal/depcheck"
)

// TestRestoreStaysLight: importing restore (to build and print a plan, or
// to restore through the restore pod) does not build etcd's server or
// etcdutl; the in-process restore that needs them is in restore/inprocess,
// and the debug-pod host's client-go in host/debugpod is not pulled in
// through host either.
func TestRestoreStaysLight(t *testing.T) {
	depcheck.Forbid(t, ".", "go.etcd.io/etcd/server/", "go.etcd.io/etcd/etcdutl/", "go.etcd.io/bbolt/",
		"github.com/lifeboat-dev/lifeboat/host/debugpod")
}
