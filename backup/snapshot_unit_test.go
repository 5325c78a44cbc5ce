package backup

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/lifeboat-dev/lifeboat/etcdtest"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestTrailerHasher(t *testing.T) {
	db := make([]byte, 3*4096)
	rand.Read(db)
	snap := withTrailer(db)
	wantDB := sha256.Sum256(db)
	wantFile := sha256.Sum256(snap)
	// Any split of the input gives the same result, including writes
	// shorter than the trailer.
	for _, chunk := range []int{1, 7, 31, 32, 33, 4096, len(snap)} {
		t.Run(fmt.Sprint(chunk), func(t *testing.T) {
			h := newTrailerHasher()
			for b := snap; len(b) > 0; {
				n := min(chunk, len(b))
				h.Write(b[:n])
				b = b[n:]
			}
			r, err := h.Finish()
			if err != nil {
				t.Fatal(err)
			}
			if r.DBSHA != hex.EncodeToString(wantDB[:]) || r.FileSHA != hex.EncodeToString(wantFile[:]) || !r.HashValid {
				t.Fatalf("got %+v", r)
			}
		})
	}
}

func TestSnapshotFaults(t *testing.T) {
	db := makeBoltDB(t, 50)
	good := withTrailer(db)
	flipped := bytes.Clone(good)
	flipped[len(db)/2] ^= 0x40

	tests := []struct {
		name    string
		data    []byte
		stream  func(ctx context.Context) io.Reader
		wrap    func(io.Writer) io.Writer
		wantErr error
		wantOp  string
	}{
		{name: "flipped byte", data: flipped, wantErr: ErrHashMismatch, wantOp: "verify"},
		{name: "flipped trailer byte", data: func() []byte { b := bytes.Clone(good); b[len(b)-1] ^= 1; return b }(), wantErr: ErrHashMismatch, wantOp: "verify"},
		{name: "truncated stream", data: good[:len(good)-1000], wantErr: ErrTruncated, wantOp: "verify"},
		{name: "without sha256", data: db, wantErr: ErrNoHash, wantOp: "verify"},
		{name: "empty stream", data: []byte{}, wantErr: ErrTruncated, wantOp: "verify"},
		{name: "stream broken", stream: func(context.Context) io.Reader {
			return &etcdtest.ChunkReader{Data: good[:8192], Chunk: 4096, Err: errors.New("rpc error: code = Unavailable")}
		}, wantErr: ErrTruncated, wantOp: "receive"},
		{name: "disk full", data: good, wrap: func(w io.Writer) io.Writer { return &limitWriter{w: w, left: 10000} }, wantErr: ErrShortWrite, wantOp: "write"},
		{name: "write error", data: good, wrap: func(w io.Writer) io.Writer { return &limitWriter{w: w, left: 5000, err: errNoSpace} }, wantErr: errNoSpace, wantOp: "write"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := streaming(newFakeEtcd(tc.data), tc.stream)
			dir := t.TempDir()
			res, err := Snapshot(t.Context(), f, dir, SnapshotOptions{Name: "s.db", BufferSize: 4096, WrapWriter: tc.wrap})
			if err == nil {
				t.Fatalf("Snapshot succeeded: %+v", res)
			}
			var se *SnapshotError
			if !errors.As(err, &se) || !errors.Is(err, tc.wantErr) || se.Op != tc.wantOp {
				t.Fatalf("err = %v (%T), want a *SnapshotError op %q wrapping %v", err, err, tc.wantOp, tc.wantErr)
			}
			assertNoFiles(t, dir)
		})
	}
}

var errNoSpace = errors.New("no space left on device")

// limitWriter accepts left bytes, then writes short (err nil) or fails
// with err.
type limitWriter struct {
	w    io.Writer
	left int
	err  error
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if len(p) <= l.left {
		l.left -= len(p)
		return l.w.Write(p)
	}
	n, _ := l.w.Write(p[:l.left])
	l.left = 0
	return n, l.err
}

func TestSnapshotCancelled(t *testing.T) {
	good := withTrailer(makeBoltDB(t, 10))
	started := make(chan struct{})
	f := streaming(newFakeEtcd(good), func(ctx context.Context) io.Reader {
		return &blockingReader{ctx: ctx, first: good[:4096], started: started}
	})
	ctx, cancel := context.WithCancel(t.Context())
	go func() { <-started; cancel() }()
	dir := t.TempDir()
	_, err := Snapshot(ctx, f, dir, SnapshotOptions{Name: "s.db", BufferSize: 4096})
	var se *SnapshotError
	if !errors.Is(err, context.Canceled) || !errors.As(err, &se) {
		t.Fatalf("err = %v, want a *SnapshotError wrapping context.Canceled", err)
	}
	assertNoFiles(t, dir)
}

// blockingReader returns first, then blocks until ctx is done.
type blockingReader struct {
	ctx     context.Context
	first   []byte
	started chan struct{}
	once    bool
}

func (r *blockingReader) Read(p []byte) (int, error) {
	if !r.once {
		r.once = true
		close(r.started)
		return copy(p, r.first), nil
	}
	<-r.ctx.Done()
	return 0, r.ctx.Err()
}

func TestSnapshotChoosesMember(t *testing.T) {
	good := withTrailer(makeBoltDB(t, 10))
	tests := []struct {
		name     string
		setup    func(f *etcdtest.Cluster)
		endpoint string
		want     string // "" accepts either follower
		wantErr  error
	}{
		{name: "a healthy follower"},
		{name: "follower down", setup: func(f *etcdtest.Cluster) { f.Down("master-1") }, want: "https://10.0.0.3:2379"},
		{name: "follower with errors", setup: func(f *etcdtest.Cluster) { f.SetStatusErrors("master-1", "NOSPACE") }, want: "https://10.0.0.3:2379"},
		{name: "leader only", setup: func(f *etcdtest.Cluster) { f.Down("master-1", "master-2") }, want: "https://10.0.0.1:2379"},
		{name: "caller's endpoint", endpoint: "https://10.0.0.1:2379", want: "https://10.0.0.1:2379"},
		{name: "caller's endpoint down", endpoint: "https://10.0.0.9:2379", wantErr: ErrNoHealthyMember},
		{name: "all down", setup: func(f *etcdtest.Cluster) { f.Down("master-0", "master-1", "master-2") }, wantErr: ErrNoHealthyMember},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeEtcd(good)
			if tc.setup != nil {
				tc.setup(f)
			}
			dir := t.TempDir()
			res, err := Snapshot(t.Context(), f, dir, SnapshotOptions{Endpoint: tc.endpoint,
				Now: func() time.Time { return time.Date(2020, 3, 18, 22, 2, 18, 0, time.Local) }})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				assertNoFiles(t, dir)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" && res.Member.Endpoint != "https://10.0.0.2:2379" && res.Member.Endpoint != "https://10.0.0.3:2379" ||
				tc.want != "" && res.Member.Endpoint != tc.want {
				t.Errorf("member = %+v, want %s", res.Member, tc.want)
			}
			if res.Path != filepath.Join(dir, "snapshot_2020-03-18_220218.db") || res.Revision != 42 || res.EtcdVersion != "3.7.0" || res.Size != int64(len(good)) {
				t.Errorf("result = %+v", res)
			}
			fi, err := os.Stat(res.Path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("mode = %v", fi.Mode())
			}
			sum := sha256.Sum256(good)
			if res.SHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("sha256 = %s", res.SHA256)
			}
		})
	}
}
