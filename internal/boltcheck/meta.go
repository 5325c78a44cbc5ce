package boltcheck

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
)

// On-disk layout (bbolt file format version 2, little-endian).
const (
	magic         = 0xED0CDAED
	formatVersion = 2

	pageHeaderSize = 16 // id u64, flags u16, count u16, overflow u32
	elemSize       = 16 // branch: pos u32, ksize u32, pgid u64; leaf: flags u32, pos u32, ksize u32, vsize u32
	bucketHdrSize  = 16 // root pgid u64, sequence u64

	// meta fields follow the page header: magic u32, version u32,
	// pageSize u32, flags u32, root bucket (16), freelist u64, pgid u64,
	// txid u64, checksum u64. The checksum covers the 56 bytes before it.
	metaSize     = 64
	metaSumBytes = 56

	branchPageFlag   = 0x01
	leafPageFlag     = 0x02
	metaPageFlag     = 0x04
	freelistPageFlag = 0x10

	bucketLeafFlag = 0x01

	noFreelist = ^uint64(0)

	// maxKeySize is bbolt's MaxKeySize: no key it wrote is longer.
	maxKeySize = 32768

	minPageSize = 512
	maxPageSize = 1 << 20
)

// meta is one decoded meta page.
type meta struct {
	page     uint64 // 0 or 1
	pageSize uint32
	root     uint64
	freelist uint64
	hwm      uint64 // bbolt's meta.pgid: pages below it are in use or free
	txid     uint64
}

// parseMeta decodes and validates the meta fields at b (the page from its
// header on, at least pageHeaderSize+metaSize bytes).
func parseMeta(page uint64, b []byte) (meta, error) {
	if len(b) < pageHeaderSize+metaSize {
		return meta{}, corruptf(page, "", "meta page truncated")
	}
	m := b[pageHeaderSize : pageHeaderSize+metaSize]
	le := binary.LittleEndian
	if got := le.Uint32(m[0:]); got != magic {
		if binary.BigEndian.Uint32(m[0:]) == magic {
			return meta{}, corruptf(page, "", "big-endian bolt file (written on another architecture)")
		}
		return meta{}, corruptf(page, "", "meta magic %#x, want %#x", got, magic)
	}
	if v := le.Uint32(m[4:]); v != formatVersion {
		return meta{}, corruptf(page, "", "meta format version %d, want %d", v, formatVersion)
	}
	h := fnv.New64a()
	h.Write(m[:metaSumBytes])
	if sum, want := le.Uint64(m[metaSumBytes:]), h.Sum64(); sum != want {
		return meta{}, corruptf(page, "", "meta checksum %#x, computed %#x", sum, want)
	}
	out := meta{
		page:     page,
		pageSize: le.Uint32(m[8:]),
		root:     le.Uint64(m[16:]),
		freelist: le.Uint64(m[32:]),
		hwm:      le.Uint64(m[40:]),
		txid:     le.Uint64(m[48:]),
	}
	if ps := out.pageSize; ps < minPageSize || ps > maxPageSize || ps&(ps-1) != 0 {
		return meta{}, corruptf(page, "", "page size %d is not a power of two in [%d, %d]", ps, minPageSize, maxPageSize)
	}
	return out, nil
}

// readMetas reads both meta pages and returns the one bbolt would use: the
// valid one with the higher txid. The second meta lies one page after the
// first; when the first is unreadable its page size is unknown and, as
// bbolt does, the common page sizes are tried. invalid lists the meta
// pages that failed validation (recoverable when the other is sound).
func readMetas(r io.ReaderAt, size int64) (best meta, invalid []error, err error) {
	buf := make([]byte, pageHeaderSize+metaSize)
	readAt := func(off int64) ([]byte, bool) {
		if off < 0 || off+int64(len(buf)) > size {
			return nil, false
		}
		n, err := r.ReadAt(buf, off)
		if n != len(buf) && err != nil {
			return nil, false
		}
		return buf, true
	}
	var metas []meta
	m0, err0 := func() (meta, error) {
		b, ok := readAt(0)
		if !ok {
			return meta{}, corruptf(0, "", "cannot read meta page 0 (file is %d bytes)", size)
		}
		return parseMeta(0, b)
	}()
	sizes := []int64{4096, 65536, 16384, 8192, 32768, 2048, 1024, 512}
	if err0 == nil {
		metas = append(metas, m0)
		sizes = []int64{int64(m0.pageSize)}
	} else {
		invalid = append(invalid, err0)
	}
	var err1 error = corruptf(1, "", "no valid meta page 1 at any page size")
	for _, ps := range sizes {
		b, ok := readAt(ps)
		if !ok {
			continue
		}
		m1, err := parseMeta(1, b)
		if err != nil {
			err1 = err
			continue
		}
		if int64(m1.pageSize) != ps {
			err1 = corruptf(1, "", "meta page 1 at offset %d records page size %d", ps, m1.pageSize)
			continue
		}
		metas, err1 = append(metas, m1), nil
		break
	}
	if err1 != nil {
		invalid = append(invalid, err1)
	}
	switch len(metas) {
	case 0:
		return meta{}, invalid, &CorruptError{Page: NoPage, Reason: fmt.Sprintf("both meta pages invalid: %v", errors.Join(invalid...))}
	case 1:
		return metas[0], invalid, nil
	}
	if metas[0].pageSize != metas[1].pageSize {
		return meta{}, invalid, corruptf(NoPage, "", "meta pages disagree on page size (%d, %d)", metas[0].pageSize, metas[1].pageSize)
	}
	if metas[1].txid > metas[0].txid {
		return metas[1], invalid, nil
	}
	return metas[0], invalid, nil
}
