package backup

import (
	"encoding/binary"
	"fmt"
	"io"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// snapshotCodec is the gRPC codec of lifeboat's snapshot stream. It
// decodes each SnapshotResponse straight from gRPC's receive buffers,
// copying the blob once into a buffer from free (recycled by the writer
// when it is done with it) instead of gRPC's default of a zeroed pooled
// buffer, a copy into it, and a copy into a new blob. Everything else is
// plain protobuf.
type snapshotCodec struct {
	free chan []byte
}

func (*snapshotCodec) Name() string { return "proto" }

func (*snapshotCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("snapshot codec: cannot marshal %T", v)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

// buffer returns a buffer of at least n bytes, recycled when one is free.
func (c *snapshotCodec) buffer(n int) []byte {
	select {
	case b := <-c.free:
		if cap(b) >= n {
			return b[:n]
		}
	default:
	}
	return make([]byte, n, max(n, 32<<10))
}

// recycle gives a blob's buffer back; it never blocks.
func (c *snapshotCodec) recycle(b []byte) {
	select {
	case c.free <- b:
	default:
	}
}

func (c *snapshotCodec) Unmarshal(data mem.BufferSlice, v any) error {
	resp, ok := v.(*pb.SnapshotResponse)
	if !ok {
		m, ok := v.(proto.Message)
		if !ok {
			return fmt.Errorf("snapshot codec: cannot unmarshal into %T", v)
		}
		return proto.Unmarshal(data.Materialize(), m)
	}
	r := data.Reader()
	defer r.Close()
	for r.Remaining() > 0 {
		tag, err := binary.ReadUvarint(r)
		if err != nil {
			return fmt.Errorf("snapshot codec: %w", err)
		}
		num, typ := protowire.Number(tag>>3), protowire.Type(tag&7)
		switch typ {
		case protowire.VarintType:
			x, err := binary.ReadUvarint(r)
			if err != nil {
				return fmt.Errorf("snapshot codec: %w", err)
			}
			if num == 2 {
				resp.RemainingBytes = x
			}
		case protowire.BytesType:
			n, err := binary.ReadUvarint(r)
			if err != nil {
				return fmt.Errorf("snapshot codec: %w", err)
			}
			if n > uint64(r.Remaining()) {
				return fmt.Errorf("snapshot codec: field %d: %w", num, io.ErrUnexpectedEOF)
			}
			switch num {
			case 3: // blob
				b := c.buffer(int(n))
				if _, err := io.ReadFull(r, b); err != nil {
					return fmt.Errorf("snapshot codec: %w", err)
				}
				resp.Blob = b
			case 4: // version
				b := make([]byte, n)
				if _, err := io.ReadFull(r, b); err != nil {
					return fmt.Errorf("snapshot codec: %w", err)
				}
				resp.Version = string(b)
			case 1: // header
				b := make([]byte, n)
				if _, err := io.ReadFull(r, b); err != nil {
					return fmt.Errorf("snapshot codec: %w", err)
				}
				resp.Header = &pb.ResponseHeader{}
				if err := proto.Unmarshal(b, resp.Header); err != nil {
					return fmt.Errorf("snapshot codec: header: %w", err)
				}
			default:
				if _, err := r.Discard(int(n)); err != nil {
					return fmt.Errorf("snapshot codec: %w", err)
				}
			}
		case protowire.Fixed64Type:
			if _, err := r.Discard(8); err != nil {
				return fmt.Errorf("snapshot codec: %w", err)
			}
		case protowire.Fixed32Type:
			if _, err := r.Discard(4); err != nil {
				return fmt.Errorf("snapshot codec: %w", err)
			}
		default:
			return fmt.Errorf("snapshot codec: field %d has unsupported wire type %d", num, typ)
		}
	}
	return nil
}
