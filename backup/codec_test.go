package backup

import (
	"bytes"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

func TestSnapshotCodec(t *testing.T) {
	blob := bytes.Repeat([]byte("etcd"), 8192)
	want := &pb.SnapshotResponse{Header: &pb.ResponseHeader{Revision: 7, MemberId: 3}, RemainingBytes: 99, Blob: blob, Version: "3.7.0"}
	wire, err := proto.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	c := &snapshotCodec{free: make(chan []byte, 2)}
	// Split the message across buffers as the HTTP/2 frames do, at every
	// kind of boundary.
	for _, cut := range []int{1, 2, 3, 7, 100, 16 << 10, len(wire) - 1} {
		data := mem.BufferSlice{mem.SliceBuffer(wire[:cut]), mem.SliceBuffer(wire[cut:])}
		got := &pb.SnapshotResponse{}
		if err := c.Unmarshal(data, got); err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if !proto.Equal(got, want) {
			t.Fatalf("cut %d: got %v", cut, got)
		}
		c.recycle(got.Blob)
	}
	if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(wire[:len(wire)-5])}, &pb.SnapshotResponse{}); err == nil {
		t.Fatal("a truncated message decoded")
	}
	// The request goes out as plain protobuf.
	out, err := c.Marshal(&pb.SnapshotRequest{})
	if err != nil || out.Len() != 0 {
		t.Fatalf("Marshal: %v, %d bytes", err, out.Len())
	}
}
