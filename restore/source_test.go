package restore

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"
	"gocloud.dev/blob"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/backup/offsite"
	"github.com/lifeboat-dev/lifeboat/internal/s3test"
	"github.com/lifeboat-dev/lifeboat/plan"
)

var _ Source = (*offsite.RestoreSource)(nil)

// offsiteFixture is the fixture's backup, and another one, uploaded
// compressed and encrypted to a real S3 server (SeaweedFS).
type offsiteFixture struct {
	*fixture
	url    string
	key    *age.X25519Identity
	bucket *blob.Bucket
	// snapKey is the fixture backup's snapshot object; otherSnapKey the
	// other backup's.
	snapKey, otherSnapKey string
}

func newOffsiteFixture(t *testing.T) *offsiteFixture {
	t.Helper()
	s3 := s3test.StartWeed(t)
	f := newFixture(t)
	key, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	of := &offsiteFixture{fixture: f, url: s3.URL(""), key: key}
	dest := offsite.Destination{URL: of.url, Recipients: []string{key.Recipient().String()}}

	// Another backup, an hour later, of other data.
	other := filepath.Join(t.TempDir(), "other")
	stamp := "2026-11-24_190000"
	snap, rev := makeSnapshot(t, 12)
	b, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(other, "snapshot_"+stamp+".db"), string(b))
	writeFile(t, filepath.Join(other, "static_kuberesources_"+stamp+".tar.gz"), string(archive(t, f.files)))
	writeManifest(t, other, stamp, "4.5.2", rev)

	for _, dir := range []string{f.backupDir, other} {
		m, err := offsite.Upload(t.Context(), dir, offsite.UploadOptions{Destination: dest})
		if err != nil {
			t.Fatal(err)
		}
		if dir == other {
			of.otherSnapKey = m.Object(offsite.RoleSnapshot).Key
		} else {
			of.snapKey = m.Object(offsite.RoleSnapshot).Key
		}
	}
	of.bucket, err = blob.OpenBucket(t.Context(), of.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { of.bucket.Close() })
	return of
}

// sourceOptions restore the fixture backup from the destination (id ""
// is the newest verified) into master-0, fetching under fetchDir.
func (of *offsiteFixture) sourceOptions(id, fetchDir string, ids ...age.Identity) job {
	o := of.options("master-0")
	o.BackupDir = ""
	if ids == nil {
		ids = []age.Identity{of.key}
	}
	o.Source = &offsite.RestoreSource{ID: id, Options: offsite.FetchOptions{Source: offsite.Destination{URL: of.url}, Identities: ids}}
	o.FetchDir = fetchDir
	return o
}

// put replaces an object's content, keeping its metadata.
func (of *offsiteFixture) put(t *testing.T, key string, body []byte) {
	t.Helper()
	attrs, err := of.bucket.Attributes(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	if err := of.bucket.WriteAll(t.Context(), key, body, &blob.WriterOptions{Metadata: attrs.Metadata}); err != nil {
		t.Fatal(err)
	}
}

// TestSourceRefusalsTouchNoHost: every way a stored backup can be wrong
// refuses the restore in verify-backup, with the offsite sentinel in an
// *offsite.ObjectError inside a *PreflightError "source", in a dry run
// and in a run, leaving every host tree and the fetch directory as they
// were.
func TestSourceRefusalsTouchNoHost(t *testing.T) {
	of := newOffsiteFixture(t)
	manifestKey := of.stamp + "/" + offsite.ManifestName
	original := map[string][]byte{}
	for _, k := range []string{of.snapKey, manifestKey} {
		b, err := of.bucket.ReadAll(t.Context(), k)
		if err != nil {
			t.Fatal(err)
		}
		original[k] = b
	}
	wrongKey, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		alter func(t *testing.T)
		ids   []age.Identity
		want  error
	}{
		{name: "wrong age identity", ids: []age.Identity{wrongKey}, want: offsite.ErrWrongIdentity},
		{name: "flipped byte in the middle of the compressed object", alter: func(t *testing.T) {
			b := slices.Clone(original[of.snapKey])
			b[len(b)/2] ^= 0x01
			of.put(t, of.snapKey, b)
		}, want: backup.ErrHashMismatch},
		{name: "truncated object", alter: func(t *testing.T) {
			b := original[of.snapKey]
			of.put(t, of.snapKey, b[:len(b)*2/3])
		}, want: backup.ErrTruncated},
		{name: "object swapped with another backup's", alter: func(t *testing.T) {
			if err := of.bucket.Copy(t.Context(), of.snapKey, of.otherSnapKey, nil); err != nil {
				t.Fatal(err)
			}
		}, want: offsite.ErrMismatch},
		{name: "object swapped with another backup's, metadata lost", alter: func(t *testing.T) {
			b, err := of.bucket.ReadAll(t.Context(), of.otherSnapKey)
			if err != nil {
				t.Fatal(err)
			}
			if err := of.bucket.WriteAll(t.Context(), of.snapKey, b, nil); err != nil {
				t.Fatal(err)
			}
		}, want: offsite.ErrMismatch},
		{name: "manifest checksum does not match", alter: func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(original[manifestKey], &m); err != nil {
				t.Fatal(err)
			}
			m["revision"] = m["revision"].(float64) + 1
			b, _ := json.Marshal(m)
			of.put(t, manifestKey, b)
		}, want: backup.ErrBadManifest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.alter != nil {
				tc.alter(t)
				defer func() {
					for k, b := range original {
						of.put(t, k, b)
					}
				}()
			}
			for _, dry := range []bool{true, false} {
				fetchDir := t.TempDir()
				opts := of.sourceOptions(of.stamp, fetchDir, tc.ids...)
				opts.DryRun = dry
				before := of.snapshotTrees(t)
				_, err := runJob(t.Context(), opts)
				var se *plan.StepError
				var pe *PreflightError
				var oe *offsite.ObjectError
				switch {
				case !errors.As(err, &se) || se.Step != "verify-backup":
					t.Fatalf("dry run %v: err = %v, want verify-backup to fail", dry, err)
				case !errors.As(err, &pe) || pe.Check != "source":
					t.Fatalf("dry run %v: err = %v, want a *PreflightError of check source", dry, err)
				case !errors.Is(err, tc.want) || !errors.As(err, &oe):
					t.Fatalf("dry run %v: err = %v, want an *offsite.ObjectError matching %v", dry, err, tc.want)
				}
				if after := of.snapshotTrees(t); after != before {
					t.Fatalf("dry run %v: a refused restore changed a host", dry)
				}
				if left, _ := os.ReadDir(fetchDir); len(left) != 0 {
					t.Errorf("dry run %v: the fetch left %v in %s", dry, left, fetchDir)
				}
				if !dry {
					t.Logf("refused: %v", err)
				}
			}
		})
	}
}

// TestSourceRestore restores the newest verified backup of the
// destination (the fixture's, uploaded first, is not the newest: the
// other is, so it is named by ID) through the whole plan; the fetched
// copy is gone when Run returns, the recovery host holds the backup.
func TestSourceRestore(t *testing.T) {
	of := newOffsiteFixture(t)
	fetchDir := t.TempDir()

	opts := of.sourceOptions(of.stamp, fetchDir)
	opts.DryRun = true
	var evs []plan.Event
	opts.Report = collect(&evs)
	if _, err := runJob(t.Context(), opts); err != nil {
		t.Fatalf("dry run: %v", err)
	}
	var msgs []string
	var whole bool // the snapshot's download reported through the step
	for _, e := range evs {
		if e.Step.ID == "verify-backup" {
			msgs = append(msgs, e.Message)
			whole = whole || e.Message == "downloading snapshot_"+of.stamp+".db" && e.BytesDone > 0 && e.BytesDone == e.BytesTotal
		}
	}
	if !strings.Contains(strings.Join(msgs, "\n"), "fetched snapshot_"+of.stamp+".db") || !whole {
		t.Errorf("the dry run did not fetch:\n%s", strings.Join(msgs, "\n"))
	}

	opts = of.sourceOptions(of.stamp, fetchDir)
	d, err := runJob(t.Context(), opts)
	if err != nil {
		t.Fatalf("restore from S3: %v", err)
	}
	if d.Backup == nil || d.Backup.Snapshot != "snapshot_"+of.stamp+".db" || d.Restore == nil || d.Restore.Member != "master-0" {
		t.Errorf("state: backup %+v restore %+v", d.Backup, d.Restore)
	}
	for _, n := range []string{"snapshot_" + of.stamp + ".db", "static_kuberesources_" + of.stamp + ".tar.gz"} {
		sameFileContent(t, filepath.Join(of.backupDir, n), filepath.Join(of.roots["master-0"], "home/core/backup", n))
	}
	if left, _ := os.ReadDir(fetchDir); len(left) != 0 {
		t.Errorf("the fetch left %v in %s", left, fetchDir)
	}
}

func sameFileContent(t *testing.T, a, b string) {
	t.Helper()
	ab, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	bb, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if string(ab) != string(bb) {
		t.Errorf("%s differs from %s", b, a)
	}
}

// TestSourceOptions: a Source is validated with the other options,
// before any I/O.
func TestSourceOptions(t *testing.T) {
	f := newFixture(t)
	key, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	good := func() *offsite.RestoreSource {
		return &offsite.RestoreSource{Options: offsite.FetchOptions{Source: offsite.Destination{URL: "file:///nonexistent"}, Identities: []age.Identity{key}}}
	}
	cases := []struct {
		name   string
		modify func(o *job)
	}{
		{"source and BackupDir", func(o *job) { o.Source = good() }},
		{"source and BackupOnHost", func(o *job) { o.BackupDir, o.BackupOnHost, o.Source = "", "/home/core/backup", good() }},
		{"source without identities", func(o *job) {
			s := good()
			s.Options.Identities = nil
			o.BackupDir, o.Source = "", s
		}},
		{"source with a bad ID", func(o *job) {
			s := good()
			s.ID = "../x"
			o.BackupDir, o.Source = "", s
		}},
		{"source with an unknown scheme", func(o *job) {
			s := good()
			s.Options.Source.URL = "ftp://host/x"
			o.BackupDir, o.Source = "", s
		}},
		{"nil source pointer", func(o *job) { o.BackupDir, o.Source = "", (*offsite.RestoreSource)(nil) }},
		{"FetchDir without a source", func(o *job) { o.FetchDir = t.TempDir() }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := f.options("master-0")
			tc.modify(&o)
			if _, err := planJob(o); !errors.Is(err, lifeboat.ErrInvalidOptions) {
				t.Errorf("Plan: %v, want lifeboat.ErrInvalidOptions", err)
			}
			if _, err := runJob(context.Background(), o); !errors.Is(err, lifeboat.ErrInvalidOptions) {
				t.Errorf("Run: %v, want lifeboat.ErrInvalidOptions", err)
			}
		})
	}
}

// TestSourceCancelledThenResumed: a restore from a destination cancelled
// after copy-backup resumes in a new Run, which fetches the backup again
// to compare it with the recorded run and finishes the plan.
func TestSourceCancelledThenResumed(t *testing.T) {
	of := newOffsiteFixture(t)
	fetchDir := t.TempDir()
	opts := of.sourceOptions(of.stamp, fetchDir)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	opts.Report = func(e plan.Event) {
		if strings.HasPrefix(e.Step.ID, "extract-resources/") && e.Status == plan.Done {
			cancel()
		}
	}
	if _, err := runJob(ctx, opts); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	if left, _ := os.ReadDir(fetchDir); len(left) != 0 {
		t.Errorf("the cancelled run left %v in %s", left, fetchDir)
	}
	var evs []plan.Event
	opts.Report = collect(&evs)
	d, err := runJob(t.Context(), opts)
	if err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	skipped := map[string]bool{}
	for _, e := range evs {
		if e.Status == plan.Skipped {
			skipped[e.Step.ID] = true
		}
	}
	if !skipped["verify-backup"] || !skipped["copy-backup"] || d.Restore == nil {
		t.Errorf("resume: skipped %v, restore %+v", skipped, d.Restore)
	}
	if left, _ := os.ReadDir(fetchDir); len(left) != 0 {
		t.Errorf("the resumed run left %v in %s", left, fetchDir)
	}
}
