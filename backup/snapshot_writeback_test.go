package backup

import (
	"fmt"
	"testing"

	"github.com/lifeboat-dev/lifeboat/internal/writeback"
	"github.com/lifeboat-dev/lifeboat/internal/writeback/writebacktest"
)

// TestSnapshotWritesBackDuringTransfer: Snapshot hands the file to the
// kernel's writeback while the stream arrives, so that the final fsync
// does not write the whole database after the transfer (the writer itself
// is tested in internal/writeback).
func TestSnapshotWritesBackDuringTransfer(t *testing.T) {
	rec := writebacktest.Record(t, 0)
	db := makeBoltDB(t, 50)
	for len(db) < 3*writeback.Chunk {
		db = append(db, db...)
	}
	snap := withTrailer(db)
	res, err := Snapshot(t.Context(), newFakeEtcd(snap), t.TempDir(), SnapshotOptions{Name: "s.db"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Size != int64(len(snap)) {
		t.Fatalf("size %d, want %d", res.Size, len(snap))
	}
	calls := rec.Calls("s.db")
	if len(calls) == 0 {
		t.Fatal("no writeback started during the transfer")
	}
	writebacktest.Check(t, calls, res.Size)
	t.Log(fmt.Sprint(len(calls), " hints"))
}
