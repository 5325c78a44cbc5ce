package backup

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
)

// trailerSize is the length of the sha256 digest etcd appends to a
// snapshot, computed over every byte of the database before it.
const trailerSize = sha256.Size

// trailerHasher hashes a snapshot as it streams by, in one pass: every byte
// except the last 32 goes into the database digest, the last 32 are kept in
// a lookbehind buffer and, at the end, compared with that digest. The
// digest of the whole file comes from a copy of the database digest's
// state fed the trailer, so each byte is hashed once.
type trailerHasher struct {
	db   hash.Hash
	tail [trailerSize]byte
	nt   int   // bytes held in tail
	n    int64 // bytes seen
}

func newTrailerHasher() *trailerHasher { return &trailerHasher{db: sha256.New()} }

// Write never fails.
func (h *trailerHasher) Write(p []byte) (int, error) {
	n := len(p)
	h.n += int64(n)
	if h.nt+len(p) <= trailerSize {
		h.nt += copy(h.tail[h.nt:], p)
		return n, nil
	}
	// Of tail+p, everything but the last trailerSize bytes is database.
	flush := h.nt + len(p) - trailerSize
	if flush >= h.nt {
		h.db.Write(h.tail[:h.nt])
		h.db.Write(p[:flush-h.nt])
		h.nt = copy(h.tail[:], p[flush-h.nt:])
		return n, nil
	}
	// Only part of the held tail leaves it; p is shorter than trailerSize.
	h.db.Write(h.tail[:flush])
	kept := copy(h.tail[:], h.tail[flush:h.nt])
	h.nt = kept + copy(h.tail[kept:], p)
	return n, nil
}

// Size is the number of bytes written.
func (h *trailerHasher) Size() int64 { return h.n }

// trailerResult is what a finished trailerHasher found.
type trailerResult struct {
	Size      int64
	FileSHA   string // hex sha256 of every byte
	DBSHA     string // hex sha256 of the database part (all but the trailer)
	Trailer   string // hex of the last 32 bytes, when present
	HasHash   bool
	HashValid bool
}

// hasTrailer reports whether a snapshot of size n carries a sha256
// trailer: bolt databases are made of pages (multiples of 512 bytes), so
// a database plus its 32-byte digest leaves 32 over; this is the rule
// etcd's own tools use.
func hasTrailer(n int64) bool { return n%512 == trailerSize }

// Finish computes the digests and checks the trailer. It returns an error
// wrapping ErrHashMismatch, ErrNoHash or ErrTruncated when the data is not
// a whole, intact snapshot.
func (h *trailerHasher) Finish() (trailerResult, error) {
	r := trailerResult{Size: h.n}
	whole, err := cloneHash(h.db)
	if err != nil {
		return r, err
	}
	whole.Write(h.tail[:h.nt])
	r.FileSHA = hex.EncodeToString(whole.Sum(nil))
	switch {
	case h.n == 0:
		return r, fmt.Errorf("%w: empty", ErrTruncated)
	case h.n%512 == 0:
		r.DBSHA = r.FileSHA
		return r, fmt.Errorf("%w (%d bytes, a whole number of 512-byte sectors)", ErrNoHash, h.n)
	case !hasTrailer(h.n):
		return r, fmt.Errorf("%w: %d bytes is neither a database nor a database plus its sha256", ErrTruncated, h.n)
	}
	sum := h.db.Sum(nil)
	r.DBSHA = hex.EncodeToString(sum)
	r.Trailer = hex.EncodeToString(h.tail[:])
	r.HasHash = true
	if !bytes.Equal(sum, h.tail[:]) {
		return r, fmt.Errorf("%w: data hashes to %s, trailer says %s", ErrHashMismatch, r.DBSHA, r.Trailer)
	}
	r.HashValid = true
	return r, nil
}

// cloneHash copies a hash's state (crypto/sha256 digests implement
// hash.Cloner).
func cloneHash(h hash.Hash) (hash.Hash, error) {
	if c, ok := h.(hash.Cloner); ok {
		return c.Clone()
	}
	return nil, fmt.Errorf("backup: hash %T cannot be cloned", h)
}
