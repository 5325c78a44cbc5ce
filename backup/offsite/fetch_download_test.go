package offsite_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/backup/offsite"
)

// cutProxy is a loopback reverse proxy in front of a storage server that,
// while cut is set, ends the body of every whole-object GET of a key
// containing match after limit bytes by dropping the connection.
type cutProxy struct {
	URL  string
	cut  atomic.Bool
	cuts atomic.Int64
	// once clears cut after the next cut.
	once  atomic.Bool
	match string
	limit int64
}

func startCutProxy(t *testing.T, target, match string, limit int64) *cutProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{match: match, limit: limit}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !p.cut.Load() || r.Method != http.MethodGet || r.Header.Get("Range") != "" || !strings.Contains(r.URL.Path, p.match) {
			rp.ServeHTTP(w, r)
			return
		}
		p.cuts.Add(1)
		if p.once.Load() {
			p.cut.Store(false)
		}
		rec := &cutWriter{ResponseWriter: w, left: p.limit}
		rp.ServeHTTP(rec, r)
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	p.URL = "http://" + l.Addr().String()
	return p
}

// cutWriter passes left bytes of the body, then aborts the handler,
// which drops the connection mid-body.
type cutWriter struct {
	http.ResponseWriter
	left int64
}

func (c *cutWriter) Write(b []byte) (int, error) {
	if int64(len(b)) > c.left {
		c.ResponseWriter.Write(b[:c.left])
		if f, ok := c.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		panic(http.ErrAbortHandler)
	}
	c.left -= int64(len(b))
	return c.ResponseWriter.Write(b)
}

// A connection that breaks in the middle of a download is a download
// failure (an *ObjectError of Op "download" with the storage client's
// error), not a corrupt object: Fetch does not call an intact backup
// corrupt, and Scrub reports it ScrubFailed, not ScrubCorrupt.
func TestDownloadFailureIsNotCorruption(t *testing.T) {
	s3 := startWeed(t)
	cli := realEtcd(t, 2)
	b := takeBackup(t, cli, testNow)
	key := newIdentity(t)
	direct := offsite.Destination{URL: s3.URL(""), Recipients: []string{key.Recipient().String()}}
	if _, err := offsite.Upload(t.Context(), b.Dir, offsite.UploadOptions{Destination: direct}); err != nil {
		t.Fatal(err)
	}
	proxy := startCutProxy(t, s3.Endpoint, "/snapshot_", 300<<10)
	via := offsite.Destination{URL: s3.URL(proxy.URL)}
	proxy.cut.Store(true)
	notCorrupt := func(t *testing.T, err error) {
		t.Helper()
		var oe *offsite.ObjectError
		if !errors.As(err, &oe) || oe.Op != "download" {
			t.Errorf("err = %v, want an *ObjectError of op download", err)
		}
		for _, s := range []error{backup.ErrHashMismatch, backup.ErrTruncated, offsite.ErrMismatch} {
			if errors.Is(err, s) {
				t.Errorf("err = %v matches %v", err, s)
			}
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) && !strings.Contains(err.Error(), "EOF") && !strings.Contains(err.Error(), "reset") {
			t.Logf("storage error: %v", err)
		}
	}

	t.Run("fetch", func(t *testing.T) {
		_, err := offsite.Fetch(t.Context(), b.Timestamp, t.TempDir(), offsite.FetchOptions{Source: via, Identities: []age.Identity{key},
			Retry: offsite.RetryOptions{MaxAttempts: 2, InitialInterval: 10 * time.Millisecond}})
		notCorrupt(t, err)
		t.Logf("refused: %v", err)
	})
	t.Run("fetch retries a broken download", func(t *testing.T) {
		proxy.once.Store(true)
		defer func() { proxy.once.Store(false); proxy.cut.Store(true) }()
		before := proxy.cuts.Load()
		got, err := offsite.Fetch(t.Context(), b.Timestamp, t.TempDir(), offsite.FetchOptions{Source: via, Identities: []age.Identity{key},
			Retry: offsite.RetryOptions{InitialInterval: 10 * time.Millisecond}})
		if err != nil {
			t.Fatalf("fetch with a retry: %v", err)
		}
		if proxy.cuts.Load() != before+1 {
			t.Errorf("%d cuts, want 1", proxy.cuts.Load()-before)
		}
		sameFile(t, b.Snapshot.Path, got.Snapshot.Path)
	})
	for _, tc := range []struct {
		name string
		ids  []age.Identity
	}{{"scrub, stored sha256", nil}, {"scrub, with identities", []age.Identity{key}}} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := offsite.Scrub(t.Context(), via, offsite.ScrubOptions{Identities: tc.ids})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Backups) != 1 || rep.Backups[0].Status != offsite.ScrubFailed || rep.Failed != 1 || rep.Corrupt != 0 {
				t.Fatalf("report %+v", rep.Backups)
			}
			notCorrupt(t, rep.Backups[0].Err)
		})
	}
	if proxy.cuts.Load() == 0 {
		t.Fatal("the proxy cut no download")
	}
	// The backup is intact: through a sound connection both agree.
	proxy.cut.Store(false)
	if _, err := offsite.Fetch(t.Context(), b.Timestamp, t.TempDir(), offsite.FetchOptions{Source: via, Identities: []age.Identity{key}}); err != nil {
		t.Errorf("fetch through a sound connection: %v", err)
	}
	if rep, err := offsite.Scrub(t.Context(), via, offsite.ScrubOptions{}); err != nil || rep.OK != 1 {
		t.Errorf("scrub through a sound connection: %+v %v", rep, err)
	}
}
