package boltcheck

import (
	"encoding/binary"
)

// checkFreelist validates the persisted freelist page (when there is one)
// and records its pages as reached and the ids it lists as free. The ids
// must be strictly increasing (bbolt writes them sorted, and its
// allocator relies on it), in [2, high-water mark), and not the
// freelist's own pages.
func (c *checker) checkFreelist() error {
	id := c.m.freelist
	if id == noFreelist {
		return nil
	}
	const where = "freelist"
	if id < 2 || id >= c.m.hwm {
		return corruptf(c.m.page, "", "meta's freelist page %d outside [2, %d)", id, c.m.hwm)
	}
	ps := int64(c.m.pageSize)
	hdr := make([]byte, pageHeaderSize+8)
	if err := c.readAt(hdr, int64(id)*ps, id, where); err != nil {
		return err
	}
	le := binary.LittleEndian
	if self := le.Uint64(hdr); self != id {
		return corruptf(id, where, "page says it is page %d", self)
	}
	if f := le.Uint16(hdr[8:]); f != freelistPageFlag {
		return corruptf(id, where, "page type %#x, want freelist %#x", f, freelistPageFlag)
	}
	overflow := uint64(le.Uint32(hdr[12:]))
	if overflow >= c.m.hwm-id {
		return corruptf(id, where, "%d overflow pages run past the high-water mark %d", overflow, c.m.hwm)
	}
	for p := id; p <= id+overflow; p++ {
		c.seen.set(p)
		c.rep.Pages++
	}
	spanBytes := int64(overflow+1) * ps
	// A count of 0xFFFF means the real count is the first 8-byte slot.
	first, count := int64(0), uint64(le.Uint16(hdr[10:]))
	if count == 0xFFFF {
		first, count = 1, le.Uint64(hdr[pageHeaderSize:])
	}
	room := (spanBytes - pageHeaderSize) / 8
	if count > uint64(room-first) {
		return corruptf(id, where, "%d page ids do not fit in %d bytes", count, spanBytes)
	}
	chunk := make([]byte, 8*min(int64(count), 8192))
	if err := c.charge(int64(len(chunk)), id, where); err != nil {
		return err
	}
	defer func() { c.used -= int64(len(chunk)) }()
	off := int64(id)*ps + pageHeaderSize + 8*first
	var prev uint64
	for done := uint64(0); done < count; {
		n := min(count-done, uint64(len(chunk)/8))
		b := chunk[:8*n]
		if err := c.readAt(b, off, id, where); err != nil {
			return err
		}
		for i := range n {
			p := le.Uint64(b[8*i:])
			switch {
			case p < 2 || p >= c.m.hwm:
				return corruptf(id, where, "free page id %d outside [2, %d)", p, c.m.hwm)
			case done+i > 0 && p <= prev:
				return corruptf(id, where, "free page ids not strictly increasing (%d after %d)", p, prev)
			case c.seen.has(p):
				return corruptf(id, where, "free page %d is the freelist itself", p)
			}
			c.free.set(p)
			prev = p
		}
		done += n
		off += int64(8 * n)
		if err := c.ctx.Err(); err != nil {
			return err
		}
	}
	c.rep.FreePages = count
	return nil
}
