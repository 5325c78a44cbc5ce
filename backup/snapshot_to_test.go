package backup

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/lifeboat-dev/lifeboat/host/hosttest"
	"github.com/lifeboat-dev/lifeboat/plan"
)

func TestSnapshotTo(t *testing.T) {
	db := makeBoltDB(t, 50)
	good := withTrailer(db)
	flipped := bytes.Clone(good)
	flipped[len(db)/2] ^= 0x40
	tests := []struct {
		name    string
		data    []byte
		wantErr error
		wantOp  string
	}{
		{name: "intact", data: good},
		{name: "flipped byte", data: flipped, wantErr: ErrHashMismatch, wantOp: "verify"},
		{name: "truncated", data: good[:len(good)-1000], wantErr: ErrTruncated, wantOp: "verify"},
		{name: "without sha256", data: db, wantErr: ErrNoHash, wantOp: "verify"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			var started int64 = -1
			var last, lastTotal int64
			ctx := plan.WithReport(t.Context(), func(e plan.Event) { last, lastTotal = e.BytesDone, e.BytesTotal })
			res, err := SnapshotTo(ctx, newFakeEtcd(tc.data), &out, SnapshotOptions{
				OnStart: func(_ Member, dbSize int64) error { started = dbSize; return nil },
			})
			if started < 0 {
				t.Error("OnStart not called")
			}
			if tc.wantErr != nil {
				var se *SnapshotError
				if !errors.As(err, &se) || !errors.Is(err, tc.wantErr) || se.Op != tc.wantOp {
					t.Fatalf("err = %v, want a *SnapshotError op %q wrapping %v", err, tc.wantOp, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(good)
			if !bytes.Equal(out.Bytes(), good) || res.SHA256 != hex.EncodeToString(sum[:]) || res.Size != int64(len(good)) || res.Path != "" {
				t.Fatalf("wrote %d bytes, result %+v; want the %d bytes of the stream", out.Len(), res, len(good))
			}
			if last != int64(len(good)) || lastTotal != started {
				t.Errorf("last progress %d of %d, want %d of the database size %d", last, lastTotal, len(good), started)
			}
		})
	}
}

func TestSnapshotToWriterFails(t *testing.T) {
	good := withTrailer(makeBoltDB(t, 5))
	var sink bytes.Buffer
	_, err := SnapshotTo(t.Context(), newFakeEtcd(good), &limitWriter{w: &sink, left: 5000, err: errNoSpace}, SnapshotOptions{})
	var se *SnapshotError
	if !errors.As(err, &se) || se.Op != "write" || !errors.Is(err, errNoSpace) {
		t.Fatalf("err = %v, want a *SnapshotError op write wrapping %v", err, errNoSpace)
	}
}

// The streamed archive is byte for byte the file ArchiveStaticResources
// writes.
func TestArchiveStaticResourcesToMatchesFile(t *testing.T) {
	root := t.TempDir()
	masterTree(t, root)
	h := hosttest.NewDir("master-0", root, hosttest.DirOptions{})
	out := t.TempDir()
	file, err := ArchiveStaticResources(t.Context(), h, out, ResourcesOptions{Name: "r.tar.gz"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	streamed, err := ArchiveStaticResourcesTo(t.Context(), h, &buf, ResourcesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	onDisk, err := os.ReadFile(filepath.Join(out, "r.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, buf.Bytes()) || streamed.SHA256 != file.SHA256 || streamed.Size != file.Size || len(streamed.Dirs) != len(file.Dirs) {
		t.Fatalf("streamed archive (%d bytes, %s) differs from the file (%d bytes, %s)", streamed.Size, streamed.SHA256, file.Size, file.SHA256)
	}
	os.RemoveAll(filepath.Join(root, "etc/kubernetes/static-pod-resources/etcd-pod-3"))
	if _, err := ArchiveStaticResourcesTo(t.Context(), h, &buf, ResourcesOptions{}); !errors.Is(err, ErrResourcesMissing) {
		t.Fatalf("err = %v, want ErrResourcesMissing", err)
	}
}

func TestSnapshotToOnStartRefuses(t *testing.T) {
	good := withTrailer(makeBoltDB(t, 5))
	var out bytes.Buffer
	_, err := SnapshotTo(t.Context(), newFakeEtcd(good), &out, SnapshotOptions{
		OnStart: func(Member, int64) error { return ErrInsufficientSpace },
	})
	var se *SnapshotError
	if !errors.As(err, &se) || se.Op != "start" || !errors.Is(err, ErrInsufficientSpace) || out.Len() != 0 {
		t.Fatalf("err = %v, %d bytes written; want a *SnapshotError op start wrapping ErrInsufficientSpace and nothing written", err, out.Len())
	}
}
