//go:build !linux

package backup

import "os"

// startWriteback is nil where no writeback hint is known: snapshots are
// written plainly and the final fsync writes them to disk.
var startWriteback func(f *os.File, off, n int64, wait bool) error
