package boltcheck

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
)

// DefaultMaxMemory is Options.MaxMemory's zero value: 64 MiB.
const DefaultMaxMemory = 64 << 20

// maxDepth bounds branch levels plus bucket nesting; a bbolt tree of
// this depth would hold more pages than any file can.
const maxDepth = 128

// Options tune a check. The zero value is ready to use.
type Options struct {
	// MaxMemory bounds the bytes the check holds at once: page buffers and
	// two bitmaps of one bit per page below the high-water mark (64 KiB
	// each per GiB of 4 KiB pages). 0 means DefaultMaxMemory. When a page
	// span does not fit whole, only its element table is held and keys are
	// read one by one.
	MaxMemory int64
}

// Report describes a database that passed Check.
type Report struct {
	// PageSize in bytes; TxID of the meta page used; MetaPage is 0 or 1.
	PageSize int
	TxID     uint64
	MetaPage int
	// OtherMetaInvalid: the other meta page failed validation (bbolt
	// recovers from this by using the valid one, as the check does).
	OtherMetaInvalid bool
	// HighWater is the number of pages in use or free (bbolt's meta.pgid).
	HighWater uint64
	// FreelistPersisted: the database stores a freelist page (etcd's
	// NoFreelistSync databases do not).
	FreelistPersisted bool
	// Pages reached from the meta page (meta, freelist and overflow
	// pages included); FreePages on the freelist.
	Pages, FreePages uint64
	// Buckets below the root bucket, nested ones included; Keys is the
	// number of key/value pairs in all of them.
	Buckets, Keys uint64
}

// Check reads the bbolt database held in the first size bytes of r and
// verifies its structure (see the package documentation). It returns a
// *CorruptError wrapping ErrCorrupt for a damaged file, an error wrapping
// ErrMemoryBudget when the check does not fit Options.MaxMemory,
// ctx.Err() when ctx ends, or the reader's error. It never panics.
func Check(ctx context.Context, r io.ReaderAt, size int64, opts Options) (*Report, error) {
	c, err := newChecker(ctx, r, size, opts)
	if err != nil {
		return nil, err
	}
	if err := c.run(); err != nil {
		return nil, err
	}
	return &c.rep, nil
}

type checker struct {
	ctx          context.Context
	r            io.ReaderAt
	size         int64
	m            meta
	budget, used int64
	seen, free   bitset
	rep          Report
	etcd         *etcdState // nil unless CheckEtcd
	steps        int
}

func newChecker(ctx context.Context, r io.ReaderAt, size int64, opts Options) (*checker, error) {
	c := &checker{ctx: ctx, r: r, size: size, budget: opts.MaxMemory}
	if c.budget <= 0 {
		c.budget = DefaultMaxMemory
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if size < 2*minPageSize {
		return nil, corruptf(NoPage, "", "%d bytes is smaller than two meta pages", size)
	}
	m, invalid, err := readMetas(r, size)
	if err != nil {
		return nil, err
	}
	c.m = m
	ps := int64(m.pageSize)
	if m.hwm < 3 || m.hwm > uint64(size/ps) {
		return nil, corruptf(m.page, "", "high-water mark %d pages of %d bytes does not fit the %d-byte file", m.hwm, ps, size)
	}
	c.rep = Report{PageSize: int(ps), TxID: m.txid, MetaPage: int(m.page), OtherMetaInvalid: len(invalid) > 0,
		HighWater: m.hwm, FreelistPersisted: m.freelist != noFreelist}
	words := int64(m.hwm/64 + 1)
	if err := c.charge(2*8*words, m.page, ""); err != nil {
		return nil, err
	}
	c.seen, c.free = make(bitset, words), make(bitset, words)
	c.seen.set(0)
	c.seen.set(1)
	c.rep.Pages = 2
	return c, nil
}

func (c *checker) run() error {
	if err := c.checkFreelist(); err != nil {
		return err
	}
	if err := c.walkBucket(c.m.root, nil, "", 0, c.m.page); err != nil {
		return err
	}
	if c.rep.FreelistPersisted {
		// As bbolt's tx.Check: every page is reached or free.
		for id := uint64(2); id < c.m.hwm; id++ {
			if !c.seen.has(id) && !c.free.has(id) {
				return corruptf(id, "", "page is neither reachable nor on the freelist")
			}
		}
	}
	return nil
}

// step honours ctx every few pages.
func (c *checker) step() error {
	c.steps++
	if c.steps%64 == 0 {
		return c.ctx.Err()
	}
	return nil
}

// walkBucket checks one bucket: a page tree rooted at root, or, when root
// is 0, the inline page in inline (found on page holder).
func (c *checker) walkBucket(root uint64, inline []byte, path string, depth int, holder uint64) error {
	if depth > maxDepth {
		return corruptf(holder, path, "buckets and pages nested deeper than %d", maxDepth)
	}
	if root != 0 {
		_, err := c.walkPage(root, nil, nil, path, depth)
		return err
	}
	le := binary.LittleEndian
	if len(inline) < pageHeaderSize {
		return corruptf(holder, path, "inline bucket of %d bytes has no page header", len(inline))
	}
	s := &span{id: holder, inline: true, n: int64(len(inline)), data: inline,
		flags: le.Uint16(inline[8:]), count: le.Uint16(inline[10:]), overflow: le.Uint32(inline[12:])}
	if s.flags != leafPageFlag {
		return corruptf(holder, path, "inline bucket page has flags %#x, want a leaf", s.flags)
	}
	if int64(pageHeaderSize)+int64(s.count)*elemSize > s.n {
		return corruptf(holder, path, "inline bucket's %d elements do not fit its %d bytes", s.count, s.n)
	}
	_, err := c.walkLeaf(s, nil, nil, path, depth)
	return err
}

// walkPage checks the page tree rooted at id, whose keys must lie in
// [lo, hi) (nil: unbounded), and returns its last key.
func (c *checker) walkPage(id uint64, lo, hi []byte, path string, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, corruptf(id, path, "buckets and pages nested deeper than %d", maxDepth)
	}
	if err := c.step(); err != nil {
		return nil, err
	}
	s, err := c.loadPage(id, path)
	if err != nil {
		return nil, err
	}
	defer c.release(s)
	for p := id; p <= id+uint64(s.overflow); p++ {
		if c.seen.has(p) {
			return nil, corruptf(p, path, "page reached twice (a cycle or a shared subtree, from page %d)", id)
		}
		if c.free.has(p) {
			return nil, corruptf(p, path, "page is in use and on the freelist")
		}
		c.seen.set(p)
		c.rep.Pages++
	}
	switch s.flags {
	case branchPageFlag:
		return c.walkBranch(s, lo, hi, path, depth)
	case leafPageFlag:
		return c.walkLeaf(s, lo, hi, path, depth)
	default:
		return nil, corruptf(id, path, "page type %#x where a branch or leaf page belongs", s.flags)
	}
}

func (c *checker) key(s *span, e elem, i int, path string) ([]byte, error) {
	if e.ksize == 0 || e.ksize > maxKeySize {
		return nil, corruptf(s.id, path, "element %d: key of %d bytes (bbolt keys are 1..%d)", i, e.ksize, maxKeySize)
	}
	return c.bytes(s, e.off+int64(e.pos), int64(e.ksize), path, fmt.Sprintf("element %d key", i))
}

// inOrder checks key i of a page against the previous key and the range.
func inOrder(s *span, i int, k, prev, lo, hi []byte, path string) error {
	switch {
	case i > 0 && bytes.Compare(prev, k) >= 0:
		return corruptf(s.id, path, "element %d: key %x does not follow %x", i, k, prev)
	case i == 0 && lo != nil && bytes.Compare(k, lo) < 0:
		return corruptf(s.id, path, "element 0: key %x is below its parent's key %x", k, lo)
	case hi != nil && bytes.Compare(k, hi) >= 0:
		return corruptf(s.id, path, "element %d: key %x is not below the parent's next key %x", i, k, hi)
	}
	return nil
}

func (c *checker) walkBranch(s *span, lo, hi []byte, path string, depth int) ([]byte, error) {
	if s.count == 0 {
		return nil, corruptf(s.id, path, "branch page without elements")
	}
	keys := make([][]byte, s.count)
	for i := range keys {
		k, err := c.key(s, s.element(i), i, path)
		if err != nil {
			return nil, err
		}
		var prev []byte
		if i > 0 {
			prev = keys[i-1]
		}
		if err := inOrder(s, i, k, prev, lo, hi, path); err != nil {
			return nil, err
		}
		keys[i] = k
	}
	var last []byte
	for i := range keys {
		next := hi
		if i+1 < len(keys) {
			next = keys[i+1]
		}
		var err error
		if last, err = c.walkPage(s.element(i).child, keys[i], next, path, depth+1); err != nil {
			return nil, err
		}
	}
	return last, nil
}

func (c *checker) walkLeaf(s *span, lo, hi []byte, path string, depth int) ([]byte, error) {
	var prev []byte
	for i := 0; i < int(s.count); i++ {
		e := s.element(i)
		if e.flags&^bucketLeafFlag != 0 {
			return nil, corruptf(s.id, path, "element %d: unknown flags %#x", i, e.flags)
		}
		k, err := c.key(s, e, i, path)
		if err != nil {
			return nil, err
		}
		if err := inOrder(s, i, k, prev, lo, hi, path); err != nil {
			return nil, err
		}
		prev = k
		voff := e.off + int64(e.pos) + int64(e.ksize)
		if voff > s.n || int64(e.vsize) > s.n-voff {
			return nil, corruptf(s.id, path, "element %d: value of %d bytes at offset %d runs past the page's %d bytes", i, e.vsize, voff, s.n)
		}
		if e.flags&bucketLeafFlag == 0 {
			c.rep.Keys++
			if c.etcd != nil {
				if err := c.etcdValue(s, path, i, k, voff, int64(e.vsize)); err != nil {
					return nil, err
				}
			}
			continue
		}
		if err := c.nestedBucket(s, e, i, k, voff, path, depth); err != nil {
			return nil, err
		}
	}
	return bytes.Clone(prev), nil
}

// nestedBucket checks the bucket stored as element i of leaf s.
func (c *checker) nestedBucket(s *span, e elem, i int, name []byte, voff int64, path string, depth int) error {
	child := string(name)
	if path != "" {
		child = path + "/" + child
	}
	if s.inline {
		return corruptf(s.id, path, "element %d: bucket %q inside an inline bucket (bbolt never writes one)", i, name)
	}
	if e.vsize < bucketHdrSize || e.vsize > c.m.pageSize {
		return corruptf(s.id, path, "element %d: bucket %q value of %d bytes", i, name, e.vsize)
	}
	v, err := c.bytes(s, voff, int64(e.vsize), path, fmt.Sprintf("element %d bucket value", i))
	if err != nil {
		return err
	}
	c.rep.Buckets++
	root := binary.LittleEndian.Uint64(v)
	if c.etcd != nil && path == "" {
		c.etcd.sawBucket(child)
	}
	if root == 0 {
		// Copy: the inline page outlives nothing, but v may alias a buffer
		// the budget accounting released.
		return c.walkBucket(0, bytes.Clone(v[bucketHdrSize:]), child, depth+1, s.id)
	}
	return c.walkBucket(root, nil, child, depth+1, s.id)
}
