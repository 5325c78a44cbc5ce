package etcdtest

import (
	"context"
	"io"
)

// ChunkReader hands out Data at most Chunk bytes per Read (all of it for
// Chunk <= 0), then Err (io.EOF when nil): a snapshot stream that breaks
// after some bytes when Err is set. With Ctx set, a Read after Ctx ends
// returns Ctx.Err().
type ChunkReader struct {
	Ctx   context.Context
	Data  []byte
	Chunk int
	Err   error
}

// Read implements io.Reader.
func (r *ChunkReader) Read(p []byte) (int, error) {
	if r.Ctx != nil && r.Ctx.Err() != nil {
		return 0, r.Ctx.Err()
	}
	if len(r.Data) == 0 {
		if r.Err != nil {
			return 0, r.Err
		}
		return 0, io.EOF
	}
	n := min(len(p), len(r.Data))
	if r.Chunk > 0 {
		n = min(n, r.Chunk)
	}
	copy(p, r.Data[:n])
	r.Data = r.Data[n:]
	return n, nil
}
