package offsite_test

import (
	"errors"
	"testing"
	"time"

	"filippo.io/age"
	"gocloud.dev/blob"

	"github.com/lifeboat-dev/lifeboat/backup/offsite"
	"github.com/lifeboat-dev/lifeboat/backup/retention"
)

// A server that fails in the middle of a multipart upload (500s injected
// by a loopback proxy in front of SeaweedFS) leaves no backup a reader
// would take (no manifest, nothing listed); the next upload succeeds, and
// a failure that passes is ridden out by the retries of one upload.
func TestUploadServerFailsMidUpload(t *testing.T) {
	s3 := startWeed(t)
	cli := realEtcd(t, 12)
	b := takeBackup(t, cli, testNow)
	proxy := startFaultProxy(t, s3.Endpoint)
	key := newIdentity(t)
	dest := offsite.Destination{URL: s3.URL(proxy.URL), Recipients: []string{key.Recipient().String()}}
	fast := offsite.RetryOptions{MaxAttempts: 1}

	t.Run("fails, leaves no backup", func(t *testing.T) {
		// The resources archive is small; fail inside the snapshot, after
		// its first part went through.
		proxy.bytes.Store(0)
		proxy.failAfter.Store(7 << 20)
		_, err := offsite.Upload(t.Context(), b.Dir, offsite.UploadOptions{Destination: dest, PartSize: 5 << 20, Retry: fast})
		var oe *offsite.ObjectError
		if err == nil || !errors.As(err, &oe) || oe.Op != "upload" {
			t.Fatalf("err = %v, want an *ObjectError op upload", err)
		}
		if !proxy.failing.Load() || proxy.failures.Load() == 0 {
			t.Fatalf("the proxy injected no failure")
		}
		proxy.failing.Store(false)
		direct := offsite.Destination{URL: s3.URL("")}
		ls, err := offsite.List(t.Context(), direct, offsite.ListOptions{})
		if err != nil || len(ls) != 0 {
			t.Fatalf("List after a failed upload: %+v, %v", ls, err)
		}
		bucket, err := blob.OpenBucket(t.Context(), s3.URL(""))
		if err != nil {
			t.Fatal(err)
		}
		defer bucket.Close()
		if ok, err := bucket.Exists(t.Context(), b.Timestamp+"/"+offsite.ManifestName); ok || err != nil {
			t.Fatalf("manifest exists: %v, %v", ok, err)
		}
		if _, err := offsite.Fetch(t.Context(), b.Timestamp, t.TempDir(), offsite.FetchOptions{Source: direct, Identities: []age.Identity{key}}); !errors.Is(err, retention.ErrNotFound) {
			t.Fatalf("Fetch of the failed upload: %v, want ErrNotFound", err)
		}
	})

	t.Run("retry succeeds", func(t *testing.T) {
		m, err := offsite.Upload(t.Context(), b.Dir, offsite.UploadOptions{Destination: dest, PartSize: 5 << 20, Retry: fast})
		if err != nil {
			t.Fatal(err)
		}
		got, err := offsite.Fetch(t.Context(), m.ID, t.TempDir(), offsite.FetchOptions{Source: dest, Identities: []age.Identity{key}})
		if err != nil {
			t.Fatal(err)
		}
		sameFile(t, b.Snapshot.Path, got.Snapshot.Path)
	})

	t.Run("transient failure ridden out by retries", func(t *testing.T) {
		other := takeBackup(t, cli, testNow.Add(time.Hour))
		proxy.bytes.Store(0)
		proxy.failures.Store(0)
		proxy.healAfter.Store(6)
		proxy.failAfter.Store(7 << 20)
		m, err := offsite.Upload(t.Context(), other.Dir, offsite.UploadOptions{Destination: dest, PartSize: 5 << 20,
			Retry: offsite.RetryOptions{MaxAttempts: 5, InitialInterval: 100 * time.Millisecond, MaxInterval: time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		if proxy.failures.Load() < 6 {
			t.Fatalf("the proxy injected %d failures", proxy.failures.Load())
		}
		if _, err := offsite.Fetch(t.Context(), m.ID, t.TempDir(), offsite.FetchOptions{Source: dest, Identities: []age.Identity{key}}); err != nil {
			t.Fatal(err)
		}
	})
}
