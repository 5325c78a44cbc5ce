package offsite

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"
)

// copyBuffer is the read size of the streaming copies.
const copyBuffer = 1 << 20

// copyProgress copies r to w in copyBuffer reads, stopping when ctx is
// cancelled, and reports the bytes copied after each write.
func copyProgress(ctx context.Context, w io.Writer, r io.Reader, progress func(int64)) (int64, error) {
	buf := make([]byte, copyBuffer)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		k, rerr := r.Read(buf)
		if k > 0 {
			if _, err := w.Write(buf[:k]); err != nil {
				return n, err
			}
			n += int64(k)
			progress(n)
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

// counter counts bytes written.
type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// backupKind is RoleSnapshot or RoleResources for a backup file name.
func backupKind(name string) string {
	if strings.HasPrefix(name, "snapshot_") {
		return RoleSnapshot
	}
	return RoleResources
}

// head keeps the first HeadSize bytes written.
type head struct{ b []byte }

func (h *head) Write(p []byte) (int, error) {
	if k := HeadSize - len(h.b); k > 0 {
		h.b = append(h.b, p[:min(k, len(p))]...)
	}
	return len(p), nil
}

func (h *head) sum() string { s := sha256.Sum256(h.b); return hex.EncodeToString(s[:]) }
