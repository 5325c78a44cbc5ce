package offsite_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/lifeboat-dev/lifeboat/internal/s3test"
)

// The server helpers live in internal/s3test, shared with restore's
// drills; these names keep this package's tests as they were.

type s3Server = s3test.Server

func freePort(t *testing.T) int { t.Helper(); return s3test.FreePort(t) }

func startWeed(t *testing.T) *s3Server { t.Helper(); return s3test.StartWeed(t) }

func startAzurite(t *testing.T) string { t.Helper(); return s3test.StartAzurite(t) }

// faultProxy is a loopback HTTP reverse proxy in front of a storage
// server that answers 500 to every request while failing is set, or
// once more than failAfter request body bytes went through.
type faultProxy struct {
	URL       string
	failing   atomic.Bool
	failAfter atomic.Int64 // 0: off
	bytes     atomic.Int64
	failures  atomic.Int64
	// healAfter, when > 0, clears failing after that many 500s.
	healAfter atomic.Int64
}

func startFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			n := p.bytes.Add(int64(len(body)))
			if fa := p.failAfter.Load(); fa > 0 && n > fa {
				p.failing.Store(true)
				p.failAfter.Store(0)
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		if p.failing.Load() {
			if f := p.failures.Add(1); p.healAfter.Load() > 0 && f >= p.healAfter.Load() {
				p.failing.Store(false)
			}
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>injected by the test</Message></Error>`)
			return
		}
		rp.ServeHTTP(w, r)
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
