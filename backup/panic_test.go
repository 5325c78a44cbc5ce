package backup

import (
	"context"
	"errors"
	"io"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/etcdtest"
)

// panicReader returns first, then panics.
type panicReader struct{ first []byte }

func (r *panicReader) Read(p []byte) (int, error) {
	if len(r.first) == 0 {
		panic("stream broke")
	}
	n := copy(p, r.first)
	r.first = r.first[n:]
	return n, nil
}

// TestSnapshotRecoversPanics: the client's Status and snapshot stream run
// on goroutines Snapshot starts; their panic fails the snapshot (no file
// left) instead of ending the process.
func TestSnapshotRecoversPanics(t *testing.T) {
	good := withTrailer(makeBoltDB(t, 10))
	for _, tc := range []struct {
		name    string
		client  etcdtest.Client
		wantErr error
		wantOp  string
	}{
		{"stream", streaming(newFakeEtcd(good), func(context.Context) io.Reader {
			return &panicReader{first: good[:4096]}
		}), ErrTruncated, "receive"},
		{"status", etcdtest.Wrap(newFakeEtcd(good), etcdtest.Funcs{
			Status: func(context.Context, etcdtest.Client, string) (*clientv3.StatusResponse, error) {
				panic("status broke")
			},
		}), ErrNoHealthyMember, "status"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			res, err := Snapshot(t.Context(), tc.client, dir, SnapshotOptions{Name: "s.db", BufferSize: 4096})
			var se *SnapshotError
			var pe *lifeboat.PanicError
			if !errors.Is(err, lifeboat.ErrPanicked) || !errors.As(err, &pe) || !errors.Is(err, tc.wantErr) || !errors.As(err, &se) {
				t.Fatalf("Snapshot = %+v, %v; want a *SnapshotError wrapping %v and a *lifeboat.PanicError", res, err, tc.wantErr)
			}
			if se.Op != tc.wantOp {
				t.Errorf("Op = %q, want %q", se.Op, tc.wantOp)
			}
			assertNoFiles(t, dir)
		})
	}
}
