package boltcheck

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"testing"
)

func check(t testing.TB, b []byte, opts Options) (*EtcdReport, error) {
	t.Helper()
	return CheckEtcd(t.Context(), bytes.NewReader(b), int64(len(b)), opts)
}

func TestCheckAcceptsWhatBboltWrites(t *testing.T) {
	tests := []struct {
		name string
		spec dbSpec
	}{
		{"empty etcd buckets", dbSpec{pageSize: 4096}},
		{"one leaf", dbSpec{pageSize: 4096, revisions: 20, meta: true}},
		{"branches, 4 KiB pages", dbSpec{pageSize: 4096, revisions: 3000, meta: true, nested: true}},
		{"branches, 512-byte pages", dbSpec{pageSize: 512, revisions: 2000, meta: true, nested: true}},
		{"64 KiB pages", dbSpec{pageSize: 65536, revisions: 5000, meta: true}},
		{"overflow value", dbSpec{pageSize: 4096, revisions: 500, bigValue: 300 << 10, meta: true}},
		{"freed pages, persisted freelist", dbSpec{pageSize: 4096, revisions: 3000, bigValue: 100 << 10, churn: true, meta: true}},
		{"freed pages, no freelist", dbSpec{pageSize: 4096, revisions: 3000, bigValue: 100 << 10, churn: true, noFreelistSync: true, meta: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := makeDB(t, &tc.spec)
			keys, buckets, checkErrs := bboltFacts(t, b)
			if len(checkErrs) > 0 {
				t.Fatalf("bbolt's own check fails: %v", checkErrs)
			}
			rep, err := check(t, b, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Keys != keys || rep.Buckets != buckets {
				t.Errorf("report: %d keys, %d buckets; bbolt: %d keys, %d buckets", rep.Keys, rep.Buckets, keys, buckets)
			}
			if rep.PageSize != tc.spec.pageSize || rep.HighWater*uint64(rep.PageSize) > uint64(len(b)) {
				t.Errorf("page size %d, high water %d, file %d", rep.PageSize, rep.HighWater, len(b))
			}
			if rep.FreelistPersisted == tc.spec.noFreelistSync {
				t.Errorf("FreelistPersisted = %v", rep.FreelistPersisted)
			}
			if rep.FreelistPersisted && rep.Pages+rep.FreePages != rep.HighWater {
				t.Errorf("%d reached + %d free != high water %d", rep.Pages, rep.FreePages, rep.HighWater)
			}
			wantRev := int64(tc.spec.revisions)
			if tc.spec.churn {
				wantRev++
			}
			if rep.Revision != wantRev {
				t.Errorf("Revision = %d, want %d", rep.Revision, wantRev)
			}
			if tc.spec.meta && (!rep.HasConsistentIndex || rep.ConsistentIndex != 4242 || rep.Term != 7 || rep.StorageVersion != "3.7.0") {
				t.Errorf("etcd meta: %+v", rep)
			}
		})
	}
}

// page returns the bytes of page id.
func page(b []byte, ps, id int) []byte { return b[id*ps : (id+1)*ps] }

// resum recomputes the checksum of meta page id after an edit.
func resum(b []byte, ps, id int) {
	m := page(b, ps, id)[pageHeaderSize:]
	h := fnv.New64a()
	h.Write(m[:metaSumBytes])
	binary.LittleEndian.PutUint64(m[metaSumBytes:], h.Sum64())
}

// findPage returns the first page id with the given flags whose first
// leaf/branch key has the prefix (nil: any).
func findPage(b []byte, ps int, flags uint16, prefix []byte) int {
	for id := 2; (id+1)*ps <= len(b); id++ {
		p := page(b, ps, id)
		if binary.LittleEndian.Uint64(p) != uint64(id) || binary.LittleEndian.Uint16(p[8:]) != flags || binary.LittleEndian.Uint16(p[10:]) == 0 {
			continue
		}
		if prefix == nil {
			return id
		}
		pos := binary.LittleEndian.Uint32(p[pageHeaderSize+4:])
		if flags == branchPageFlag {
			pos = binary.LittleEndian.Uint32(p[pageHeaderSize:])
		}
		if k := p[pageHeaderSize+int(pos):]; bytes.HasPrefix(k, prefix) {
			return id
		}
	}
	return -1
}

func TestCheckRefusesCorruption(t *testing.T) {
	const ps = 4096
	base := dbSpec{pageSize: ps, revisions: 3000, meta: true, nested: true, bigValue: 20 << 10, churn: true}
	good := makeDB(t, &base)
	u64 := binary.LittleEndian.PutUint64
	tests := []struct {
		name   string
		mutate func(t *testing.T, b []byte) []byte
		want   string // in the error
	}{
		{"both meta checksums", func(t *testing.T, b []byte) []byte {
			b[pageHeaderSize+20] ^= 1
			b[ps+pageHeaderSize+20] ^= 1
			return b
		}, "both meta pages invalid"},
		{"root beyond high water", func(t *testing.T, b []byte) []byte {
			for id := range 2 {
				u64(page(b, ps, id)[pageHeaderSize+16:], 1<<40)
				resum(b, ps, id)
			}
			return b
		}, "outside [2,"},
		{"high water beyond the file", func(t *testing.T, b []byte) []byte {
			for id := range 2 {
				u64(page(b, ps, id)[pageHeaderSize+40:], uint64(len(b)/ps+5))
				resum(b, ps, id)
			}
			return b
		}, "does not fit the"},
		{"branch child out of range", func(t *testing.T, b []byte) []byte {
			id := findPage(b, ps, branchPageFlag, revKey(1)[:6])
			if id < 0 {
				t.Fatal("no branch page")
			}
			u64(page(b, ps, id)[pageHeaderSize+8:], 1<<50)
			return b
		}, "outside [2,"},
		{"branch child points at its parent (cycle)", func(t *testing.T, b []byte) []byte {
			id := findPage(b, ps, branchPageFlag, revKey(1)[:6])
			u64(page(b, ps, id)[pageHeaderSize+8:], uint64(id))
			return b
		}, "reached twice"},
		{"leaf key offset past the page", func(t *testing.T, b []byte) []byte {
			id := findPage(b, ps, leafPageFlag, revKey(1)[:6])
			binary.LittleEndian.PutUint32(page(b, ps, id)[pageHeaderSize+4:], 1<<30)
			return b
		}, "outside the page"},
		{"leaf value length past the page", func(t *testing.T, b []byte) []byte {
			id := findPage(b, ps, leafPageFlag, revKey(1)[:6])
			binary.LittleEndian.PutUint32(page(b, ps, id)[pageHeaderSize+12:], 1<<31)
			return b
		}, "runs past"},
		{"element count larger than the page", func(t *testing.T, b []byte) []byte {
			id := findPage(b, ps, leafPageFlag, revKey(1)[:6])
			binary.LittleEndian.PutUint16(page(b, ps, id)[10:], 0xfff0)
			return b
		}, "do not fit"},
		{"page claims another id", func(t *testing.T, b []byte) []byte {
			id := findPage(b, ps, leafPageFlag, revKey(1)[:6])
			u64(page(b, ps, id), 3)
			return b
		}, "says it is page 3"},
		{"unknown page type", func(t *testing.T, b []byte) []byte {
			id := findPage(b, ps, leafPageFlag, revKey(1)[:6])
			binary.LittleEndian.PutUint16(page(b, ps, id)[8:], 0x40)
			return b
		}, "page type 0x40"},
		{"overflow past high water", func(t *testing.T, b []byte) []byte {
			id := findPage(b, ps, leafPageFlag, revKey(1)[:6])
			binary.LittleEndian.PutUint32(page(b, ps, id)[12:], 1<<31)
			return b
		}, "overflow pages"},
		{"keys out of order", func(t *testing.T, b []byte) []byte {
			id := findPage(b, ps, leafPageFlag, revKey(1)[:6])
			p := page(b, ps, id)
			pos := binary.LittleEndian.Uint32(p[pageHeaderSize+4:])
			p[pageHeaderSize+int(pos)] = 0xff // first key now sorts last
			return b
		}, "key"},
		{"revision key of the wrong shape", func(t *testing.T, b []byte) []byte {
			id := findPage(b, ps, leafPageFlag, revKey(1)[:6])
			p := page(b, ps, id)
			e := pageHeaderSize + 16*int(binary.LittleEndian.Uint16(p[10:])-1)
			pos := binary.LittleEndian.Uint32(p[e+4:])
			p[e+int(pos)+8] = '-' // last key: separator broken, order kept
			return b
		}, "not an etcd revision"},
		{"freelist lists a page in use", func(t *testing.T, b []byte) []byte {
			m := page(b, ps, 0)[pageHeaderSize:]
			fl := int(binary.LittleEndian.Uint64(m[32:]))
			if fl2 := int(binary.LittleEndian.Uint64(page(b, ps, 1)[pageHeaderSize+32:])); binary.LittleEndian.Uint64(page(b, ps, 1)[pageHeaderSize+48:]) > binary.LittleEndian.Uint64(m[48:]) {
				fl = fl2
			}
			p := page(b, ps, fl)
			if binary.LittleEndian.Uint16(p[10:]) == 0 {
				t.Fatal("empty freelist")
			}
			root := findPage(b, ps, leafPageFlag, revKey(1)[:6])
			u64(p[pageHeaderSize:], uint64(root))
			return b
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.mutate(t, bytes.Clone(good))
			_, err := check(t, b, Options{})
			var ce *CorruptError
			if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *CorruptError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestCheckOneValidMetaSuffices(t *testing.T) {
	const ps = 4096
	good := makeDB(t, &dbSpec{pageSize: ps, revisions: 50, meta: true})
	for id := range 2 {
		b := bytes.Clone(good)
		b[id*ps+pageHeaderSize+20] ^= 1
		// The other meta may be an older, emptier transaction: Check, not
		// CheckEtcd.
		rep, err := Check(t.Context(), bytes.NewReader(b), int64(len(b)), Options{})
		if err != nil {
			t.Fatalf("meta %d broken: %v", id, err)
		}
		if !rep.OtherMetaInvalid || rep.MetaPage == id {
			t.Errorf("meta %d broken: report %+v", id, rep)
		}
	}
}

func TestCheckMemoryBudget(t *testing.T) {
	b := makeDB(t, &dbSpec{pageSize: 4096, revisions: 500, bigValue: 8 << 20, meta: true})
	// 8 MiB of value is read as its element table alone under a small budget.
	if _, err := check(t, b, Options{MaxMemory: 256 << 10}); err != nil {
		t.Fatalf("256 KiB budget: %v", err)
	}
	if _, err := check(t, b, Options{MaxMemory: 64}); !errors.Is(err, ErrMemoryBudget) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("64-byte budget: err = %v, want ErrMemoryBudget", err)
	}
}

func TestCheckHonoursContext(t *testing.T) {
	b := makeDB(t, &dbSpec{pageSize: 512, revisions: 5000})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := CheckEtcd(ctx, bytes.NewReader(b), int64(len(b)), Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestCheckNotEtcd(t *testing.T) {
	b := makeDB(t, &dbSpec{pageSize: 4096})
	// Rename "key" to "kez": still a sound bolt file, not an etcd one.
	i := bytes.Index(b, []byte("key"))
	b[i+2] = 'z'
	if _, err := Check(t.Context(), bytes.NewReader(b), int64(len(b)), Options{}); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if _, err := check(t, b, Options{}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "not an etcd database") {
		t.Fatalf("CheckEtcd: %v", err)
	}
}

// TestCheckRandomDamage flips, zeroes and truncates a real bbolt file at
// random (fixed seed) and requires an error or a report, never a panic.
func TestCheckRandomDamage(t *testing.T) {
	good := makeDB(t, &dbSpec{pageSize: 512, revisions: 300, meta: true, nested: true, bigValue: 3000, churn: true})
	rng := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		b := bytes.Clone(good)
		switch rng.IntN(3) {
		case 0:
			for range 1 + rng.IntN(8) {
				b[rng.IntN(len(b))] ^= byte(1 << rng.IntN(8))
			}
		case 1:
			at := rng.IntN(len(b) - 8)
			binary.LittleEndian.PutUint64(b[at:], rng.Uint64())
		case 2:
			b = b[:rng.IntN(len(b))]
		}
		_, _ = check(t, b, Options{MaxMemory: 1 << 20})
	}
}
