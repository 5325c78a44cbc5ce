package backup

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/internal/errtest"
)

// TestSingleCallsRefuseBadArguments: the single calls refuse a nil
// client, host, writer or result and an empty directory with a
// *lifeboat.OptionsError naming the argument, instead of panicking or
// writing into the working directory; a file name option that would leave
// the directory is refused before anything is written.
func TestSingleCallsRefuseBadArguments(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "out")
	etcd := newFakeEtcd(withTrailer(makeBoltDB(t, 42)))
	h := host.NewLocal("master-0", t.TempDir(), host.LocalOptions{})
	second := func(_ any, err error) error { return err }
	errtest.OptionNames(t, []errtest.Option{
		{Name: "snapshot without client", Err: second(Snapshot(ctx, nil, dir, SnapshotOptions{})), Want: "backup.Snapshot c"},
		{Name: "snapshot without dir", Err: second(Snapshot(ctx, etcd, "", SnapshotOptions{})), Want: "backup.Snapshot dir"},
		{Name: "snapshot name with ..", Err: second(Snapshot(ctx, etcd, dir, SnapshotOptions{Name: "../escape.db"})), Want: "backup.SnapshotOptions.Name"},
		{Name: "snapshot name ..", Err: second(Snapshot(ctx, etcd, dir, SnapshotOptions{Name: ".."})), Want: "backup.SnapshotOptions.Name"},
		{Name: "snapshot name with newline", Err: second(Snapshot(ctx, etcd, dir, SnapshotOptions{Name: "a\nb.db"})), Want: "backup.SnapshotOptions.Name"},
		{Name: "snapshot name with NUL", Err: second(Snapshot(ctx, etcd, dir, SnapshotOptions{Name: "a\x00.db"})), Want: "backup.SnapshotOptions.Name"},
		{Name: "snapshot negative buffer", Err: second(Snapshot(ctx, etcd, dir, SnapshotOptions{BufferSize: -1})), Want: "backup.SnapshotOptions.BufferSize"},
		{Name: "snapshot negative status timeout", Err: second(Snapshot(ctx, etcd, dir, SnapshotOptions{StatusTimeout: -time.Second})), Want: "backup.SnapshotOptions.StatusTimeout"},
		{Name: "snapshot to without client", Err: second(SnapshotTo(ctx, nil, io.Discard, SnapshotOptions{})), Want: "backup.SnapshotTo c"},
		{Name: "snapshot to without writer", Err: second(SnapshotTo(ctx, etcd, nil, SnapshotOptions{})), Want: "backup.SnapshotTo w"},
		{Name: "snapshot to negative status timeout", Err: second(SnapshotTo(ctx, etcd, io.Discard, SnapshotOptions{StatusTimeout: -1})), Want: "backup.SnapshotOptions.StatusTimeout"},
		{Name: "archive without host", Err: second(ArchiveStaticResources(ctx, nil, dir, ResourcesOptions{})), Want: "backup.ArchiveStaticResources h"},
		{Name: "archive without dir", Err: second(ArchiveStaticResources(ctx, h, "", ResourcesOptions{})), Want: "backup.ArchiveStaticResources dir"},
		{Name: "archive name with separator", Err: second(ArchiveStaticResources(ctx, h, dir, ResourcesOptions{Name: "x/../../y.tar.gz"})), Want: "backup.ResourcesOptions.Name"},
		{Name: "archive to without host", Err: second(ArchiveStaticResourcesTo(ctx, nil, io.Discard, ResourcesOptions{})), Want: "backup.ArchiveStaticResourcesTo h"},
		{Name: "archive to without writer", Err: second(ArchiveStaticResourcesTo(ctx, h, nil, ResourcesOptions{})), Want: "backup.ArchiveStaticResourcesTo w"},
		{Name: "folders without host", Err: second(FoldersOn(ctx, nil, "/backup", FolderOptions{})), Want: "backup.FoldersOn h"},
		{Name: "latest folder without host", Err: second(LatestFolderOn(ctx, nil, "/backup", FolderOptions{})), Want: "backup.LatestFolderOn h"},
		{Name: "verify without host", Err: second(VerifyOn(ctx, nil, "/backup", VerifyOptions{})), Want: "backup.VerifyOn h"},
		{Name: "operators without client", Err: CheckOperators(ctx, nil), Want: "backup.CheckOperators cfg"},
		{Name: "cluster info without client", Err: second(ReadClusterInfo(ctx, nil)), Want: "backup.ReadClusterInfo cfg"},
		{Name: "rotation without info", Err: CheckCertificateRotation(nil, time.Now(), 0), Want: "backup.CheckCertificateRotation info"},
		{Name: "manifest without dir", Err: WriteManifest("", &Manifest{Format: ManifestFormat}), Want: "backup.WriteManifest dir"},
		{Name: "manifest without manifest", Err: WriteManifest(dir, nil), Want: "backup.WriteManifest m"},
		{Name: "verify snapshot without path", Err: second(VerifySnapshot(ctx, "", VerifySnapshotOptions{})), Want: "backup.VerifySnapshot path"},
		{Name: "database check without path", Err: CheckSnapshotDatabase(ctx, "", &SnapshotInfo{}), Want: "backup.CheckSnapshotDatabase path"},
		{Name: "database check without info", Err: CheckSnapshotDatabase(ctx, "/x.db", nil), Want: "backup.CheckSnapshotDatabase info"},
	})
	// Nothing was written, in dir or beside it.
	assertNoFiles(t, filepath.Dir(dir))
	if b, _ := VerifyOn(ctx, nil, "/backup", VerifyOptions{}); b == nil {
		t.Error("VerifyOn(nil host) returned a nil *Backup; its documentation promises one")
	}
}

// TestCancelledContextTouchesNothing: a context cancelled before the call
// stops the snapshot checks before they open the file, with an error
// wrapping context.Canceled.
func TestCancelledContextTouchesNothing(t *testing.T) {
	p := filepath.Join(t.TempDir(), "snapshot.db")
	if err := os.WriteFile(p, withTrailer(makeBoltDB(t, 42)), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := VerifySnapshot(ctx, p, VerifySnapshotOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("VerifySnapshot(cancelled) = %v, want context.Canceled", err)
	}
	if err := CheckSnapshotDatabase(ctx, p, &SnapshotInfo{Size: 1 << 20, HasHash: true}); !errors.Is(err, context.Canceled) {
		t.Errorf("CheckSnapshotDatabase(cancelled) = %v, want context.Canceled", err)
	}
}

// TestSnapshotHasherZeroValue: a zero SnapshotHasher works as
// NewSnapshotHasher's.
func TestSnapshotHasherZeroValue(t *testing.T) {
	snap := withTrailer(makeBoltDB(t, 42))
	var zero SnapshotHasher
	zero.Write(snap)
	got, err := zero.Sum(false)
	if err != nil {
		t.Fatalf("zero SnapshotHasher: Sum = %v", err)
	}
	h := NewSnapshotHasher()
	h.Write(snap)
	want, _ := h.Sum(false)
	if *got != *want {
		t.Errorf("zero SnapshotHasher Sum = %+v, want %+v", got, want)
	}
}

// TestReadManifestRefusesBadFiles: a backup.json that is truncated, has a
// value of the wrong type, a key twice, a negative size, more than 1 MiB,
// or is not a regular file is an error wrapping ErrBadManifest, and
// ReadManifest returns (it does not block on a FIFO).
func TestReadManifestRefusesBadFiles(t *testing.T) {
	good := `{"format": 1, "timestamp": "2026-01-01_000000", "revision": 5, "snapshot": {"name": "s.db", "size": 10, "sha256": "aa"}}`
	if _, err := parseManifest([]byte(good)); err != nil {
		t.Fatalf("good manifest refused: %v", err)
	}
	for _, tc := range []struct {
		name    string
		content string
		setup   func(t *testing.T, p string)
	}{
		{name: "truncated", content: good[:len(good)/2]},
		{name: "wrong type", content: strings.Replace(good, `"revision": 5`, `"revision": "5"`, 1)},
		{name: "duplicate top-level key", content: strings.Replace(good, `"revision": 5`, `"revision": 5, "revision": 6`, 1)},
		{name: "duplicate nested key", content: strings.Replace(good, `"sha256": "aa"`, `"sha256": "aa", "sha256": "bb"`, 1)},
		{name: "negative size", content: strings.Replace(good, `"size": 10`, `"size": -10`, 1)},
		{name: "negative revision", content: strings.Replace(good, `"revision": 5`, `"revision": -5`, 1)},
		{name: "absurdly large", content: good[:len(good)-1] + `, "x": "` + strings.Repeat("a", 2<<20) + `"}`},
		{name: "directory", setup: func(t *testing.T, p string) {
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "fifo", setup: func(t *testing.T, p string) {
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, ManifestFileName)
			if tc.setup != nil {
				tc.setup(t, p)
			} else if err := os.WriteFile(p, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { _, err := ReadManifest(dir); done <- err }()
			select {
			case err := <-done:
				if !errors.Is(err, ErrBadManifest) {
					t.Errorf("ReadManifest = %v, want ErrBadManifest", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("ReadManifest blocked")
			}
		})
	}
	// A manifest WriteManifest wrote has no duplicate keys.
	dir := t.TempDir()
	if err := WriteManifest(dir, &Manifest{Format: ManifestFormat, ResourceDirs: []ResourceDir{{}, {}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadManifest(dir); err != nil {
		t.Errorf("ReadManifest(WriteManifest's) = %v", err)
	}
}
