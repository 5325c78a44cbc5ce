// Package writeback writes large files the way a streaming writer should
// on Linux: while the bytes still arrive, each written range is handed to
// the kernel's writeback, the range before it is waited for and dropped
// from the page cache.
//
// Without it a file smaller than the kernel's dirty thresholds (10 % of
// the available memory by default: gigabytes on a master) stays dirty in
// the page cache until the final fsync, which then writes the whole file
// with the transfer already over: for a 1 GiB etcd snapshot about a third
// of the transfer's own time, spent after it. lifeboat writes its large
// files (snapshots taken, backups fetched from object storage, the local
// copy of a streamed backup) through NewWriter; durability stays the
// caller's fsync.
package writeback
