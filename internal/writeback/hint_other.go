//go:build !linux

package writeback

// platformHint is nil where no writeback hint is known: files are written
// plainly and the final fsync writes them to disk.
var platformHint Hint
