package boltcheck

import (
	"encoding/binary"
	"fmt"
)

// span is one page with its overflow pages, or an inline bucket's page.
// data holds its first len(data) bytes; bytes past that are read on
// demand (a span larger than the memory budget is never held whole).
type span struct {
	id       uint64 // page id (the holding page's id for an inline page)
	inline   bool
	off      int64 // file offset (unused for inline)
	n        int64 // bytes in the span
	flags    uint16
	count    uint16
	overflow uint32
	data     []byte
	held     int64 // bytes charged to the budget
}

// loadPage reads page id's header, validates its id, type and overflow,
// and loads as much of its span as the budget allows (at least the
// element table). bucket names the bucket for errors.
func (c *checker) loadPage(id uint64, bucket string) (*span, error) {
	if id < 2 || id >= c.m.hwm {
		return nil, corruptf(id, bucket, "page id outside [2, %d)", c.m.hwm)
	}
	ps := int64(c.m.pageSize)
	hdr := make([]byte, pageHeaderSize)
	if err := c.readAt(hdr, int64(id)*ps, id, bucket); err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	s := &span{id: id, off: int64(id) * ps, flags: le.Uint16(hdr[8:]), count: le.Uint16(hdr[10:]), overflow: le.Uint32(hdr[12:])}
	if self := le.Uint64(hdr[0:]); self != id {
		return nil, corruptf(id, bucket, "page says it is page %d", self)
	}
	if uint64(s.overflow) >= c.m.hwm-id {
		return nil, corruptf(id, bucket, "%d overflow pages run past the high-water mark %d", s.overflow, c.m.hwm)
	}
	s.n = int64(s.overflow+1) * ps
	return s, c.fill(s, bucket)
}

// fill loads the span's first bytes: the whole span when the budget
// allows, else the element table (bounded by 64 Ki elements) rounded to
// a page.
func (c *checker) fill(s *span, bucket string) error {
	table := int64(pageHeaderSize) + int64(s.count)*elemSize
	if table > s.n {
		return corruptf(s.id, bucket, "%d elements do not fit in a span of %d bytes", s.count, s.n)
	}
	want := s.n
	if want > c.budget-c.used || want > maxWholeSpan {
		want = min(s.n, max(table, int64(c.m.pageSize)))
	}
	if err := c.charge(want, s.id, bucket); err != nil {
		return err
	}
	s.held = want
	s.data = make([]byte, want)
	return c.readAt(s.data, s.off, s.id, bucket)
}

// maxWholeSpan: spans up to this size are read in one call; larger ones
// (pages holding big values) keep only their element table in memory.
const maxWholeSpan = 4 << 20

// release returns the span's buffer to the budget.
func (c *checker) release(s *span) {
	c.used -= s.held
	s.held, s.data = 0, nil
}

func (c *checker) charge(n int64, page uint64, bucket string) error {
	if c.used+n > c.budget {
		return fmt.Errorf("%w: page %d (bucket %q) needs %d bytes, %d of %d in use", ErrMemoryBudget, page, bucket, n, c.used, c.budget)
	}
	c.used += n
	return nil
}

// bytes returns n bytes at offset off of the span, after checking they lie
// inside it; what is not loaded is read from the file (n is bounded by
// the caller: keys by maxKeySize, values by what etcd reads).
func (c *checker) bytes(s *span, off, n int64, bucket, what string) ([]byte, error) {
	if off < 0 || n < 0 || off > s.n || n > s.n-off {
		return nil, corruptf(s.id, bucket, "%s at offset %d, %d bytes, outside the page's %d bytes", what, off, n, s.n)
	}
	if off+n <= int64(len(s.data)) {
		return s.data[off : off+n], nil
	}
	if s.inline {
		return nil, corruptf(s.id, bucket, "%s outside the inline bucket", what)
	}
	if err := c.charge(n, s.id, bucket); err != nil {
		return nil, err
	}
	defer func() { c.used -= n }()
	b := make([]byte, n)
	if err := c.readAt(b, s.off+off, s.id, bucket); err != nil {
		return nil, err
	}
	return b, nil
}

// elem is one decoded branch or leaf element.
type elem struct {
	flags      uint32 // leaf only
	pos, ksize uint32
	vsize      uint32 // leaf only
	child      uint64 // branch only
	off        int64  // of the element in the span
}

// element decodes element i (i < s.count; the table was bounds-checked by
// fill).
func (s *span) element(i int) elem {
	off := int64(pageHeaderSize) + int64(i)*elemSize
	b := s.data[off : off+elemSize]
	le := binary.LittleEndian
	if s.flags == branchPageFlag {
		return elem{pos: le.Uint32(b[0:]), ksize: le.Uint32(b[4:]), child: le.Uint64(b[8:]), off: off}
	}
	return elem{flags: le.Uint32(b[0:]), pos: le.Uint32(b[4:]), ksize: le.Uint32(b[8:]), vsize: le.Uint32(b[12:]), off: off}
}

// readAt fills b from the file at off; a short read is a truncated file.
func (c *checker) readAt(b []byte, off int64, page uint64, bucket string) error {
	if off < 0 || off > c.size || int64(len(b)) > c.size-off {
		return corruptf(page, bucket, "bytes [%d, %d) lie past the end of the %d-byte file", off, off+int64(len(b)), c.size)
	}
	n, err := c.r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil {
		err = fmt.Errorf("short read")
	}
	return fmt.Errorf("boltcheck: reading page %d at offset %d: %w", page, off, err)
}
