package backup

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// fakeEtcd is a SnapshotClient serving a fixed byte stream, with hooks to
// break it.
type fakeEtcd struct {
	endpoints []string
	// status per endpoint; a missing endpoint answers statusErr.
	status    map[string]*clientv3.StatusResponse
	statusErr error
	members   []*pb.Member
	version   string
	// stream returns the reader served for a snapshot; nil serves data.
	stream func(ctx context.Context) io.Reader
	data   []byte
}

func (f *fakeEtcd) Endpoints() []string { return f.endpoints }

func (f *fakeEtcd) Status(ctx context.Context, ep string) (*clientv3.StatusResponse, error) {
	if s, ok := f.status[ep]; ok {
		return s, nil
	}
	if f.statusErr != nil {
		return nil, f.statusErr
	}
	return nil, errors.New("connection refused")
}

func (f *fakeEtcd) MemberList(ctx context.Context, _ ...clientv3.OpOption) (*clientv3.MemberListResponse, error) {
	return &clientv3.MemberListResponse{Members: f.members}, nil
}

func (f *fakeEtcd) SnapshotWithVersion(ctx context.Context) (*clientv3.SnapshotResponse, error) {
	var r io.Reader
	if f.stream != nil {
		r = f.stream(ctx)
	} else {
		r = &chunkReader{data: f.data, chunk: 32 << 10}
	}
	return &clientv3.SnapshotResponse{Snapshot: io.NopCloser(r), Version: f.version}, nil
}

// chunkReader hands out data in chunks, as the gRPC stream does, then err
// (io.EOF when nil).
type chunkReader struct {
	data  []byte
	chunk int
	err   error
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		return 0, io.EOF
	}
	n := min(len(p), r.chunk, len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// newFakeEtcd serves snap from a 3-member cluster whose first endpoint is
// the leader.
func newFakeEtcd(snap []byte) *fakeEtcd {
	f := &fakeEtcd{
		endpoints: []string{"https://10.0.0.1:2379", "https://10.0.0.2:2379", "https://10.0.0.3:2379"},
		status:    map[string]*clientv3.StatusResponse{},
		version:   "3.7.0",
		data:      snap,
	}
	for i, ep := range f.endpoints {
		id := uint64(i + 1)
		f.status[ep] = &clientv3.StatusResponse{
			Header:  &pb.ResponseHeader{MemberId: id, Revision: 42},
			Leader:  1,
			Version: "3.7.3",
			DbSize:  int64(len(snap)),
		}
		f.members = append(f.members, &pb.Member{ID: id, Name: "master-" + string(rune('0'+i)), ClientURLs: []string{ep}})
	}
	return f
}

// makeBoltDB writes a small etcd-shaped bolt database (buckets "key" and
// "meta", revisions 2..rev) and returns its bytes.
func makeBoltDB(t testing.TB, rev int64) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		kb, err := tx.CreateBucket([]byte("key"))
		if err != nil {
			return err
		}
		for r := int64(2); r <= rev; r++ {
			k := make([]byte, 17)
			binary.BigEndian.PutUint64(k, uint64(r))
			k[8] = '_'
			if err := kb.Put(k, []byte{'k', byte(r)}); err != nil {
				return err
			}
		}
		mb, err := tx.CreateBucket([]byte("meta"))
		if err != nil {
			return err
		}
		return mb.Put([]byte("storageVersion"), []byte("3.7.0"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withTrailer appends etcd's sha256 trailer.
func withTrailer(db []byte) []byte {
	sum := sha256.Sum256(db)
	return append(append([]byte(nil), db...), sum[:]...)
}

// assertNoFiles fails when dir holds any file.
func assertNoFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("file left behind: %s", e.Name())
	}
}
