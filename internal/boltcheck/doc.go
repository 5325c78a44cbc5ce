// Package boltcheck checks the structure of a bbolt database file (the
// format of an etcd snapshot and of etcd's member/snap/db) with code that
// cannot panic on any input, so that a corrupt or hostile file becomes a
// typed error instead of a crash of the calling process.
//
// bbolt itself maps the file and trusts its page ids, offsets and lengths:
// a damaged page makes it read outside the mapping (a fault no recover
// stops) or assert in goroutines the caller does not own (tx.Check). This
// package reads the same on-disk format through an io.ReaderAt, page by
// page, and bounds every value before using it:
//
//   - both meta pages (magic 0xED0CDAED, version 2, page size, fnv-64a
//     checksum of the first 56 bytes); the valid one with the higher
//     transaction id is used, as bbolt does;
//   - the B+tree of the root bucket and of every nested bucket, inline
//     buckets included: each page id below the high-water mark and inside
//     the file, the page's self-declared id and type, element counts,
//     element offsets and key/value lengths inside the page's span
//     (overflow pages included), keys strictly increasing within a page and
//     inside the range their parent branch gives them;
//   - that no page is reached twice (which also rules out cycles) and none
//     that is reached is on the freelist;
//   - the freelist page, when the database persists one: ids sorted,
//     unique, below the high-water mark; and then, as bbolt's tx.Check does,
//     that every page below the high-water mark is reached or free.
//
// [CheckEtcd] adds the rules etcd's own restore code relies on without
// checking them (etcdutl panics when they fail): the "key" bucket exists
// and its keys are revisions (8-byte main, '_', 8-byte sub, optional
// tombstone 't'); "consistent_index" and "term" in "meta" are 8 bytes; the
// compaction marks are revisions; "members" and "members_removed" keys are
// hexadecimal member ids. It reports the consistent index, the term, the
// number of keys in "key", the newest revision and the storage version.
//
// Memory is bounded by [Options.MaxMemory] (page buffers and the two page
// bitmaps); a multi-GiB database is read a page span at a time, never as a
// whole. Values are not read except the few etcd needs.
//
// Every corruption is a *[CorruptError] (page id and what was wrong) that
// wraps [ErrCorrupt]. The format is bbolt's native little-endian layout
// (every platform etcd supports for OpenShift); a big-endian file is
// reported as corrupt.
package boltcheck
