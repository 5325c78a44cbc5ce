package boltcheck

// bitset holds one bit per page id below the high-water mark; callers
// check ids against it before use.
type bitset []uint64

func (b bitset) set(i uint64)      { b[i/64] |= 1 << (i % 64) }
func (b bitset) has(i uint64) bool { return b[i/64]&(1<<(i%64)) != 0 }
