package s3test

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// fatalRecorder is a testing.TB whose Fatal ends only the goroutine it
// runs in and records the message, so a test can see StartWeed give up.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = format
	runtime.Goexit()
}

func (f *fatalRecorder) Fatal(args ...any) { f.Fatalf("%v", args...) }

// fakeWeed writes a script standing in for weed: it fails like a weed
// whose port was taken the first fails times, then runs the real weed.
func fakeWeed(t *testing.T, fails int, real string) string {
	t.Helper()
	dir := t.TempDir()
	script := "#!/bin/sh\nn=$(cat " + dir + "/count 2>/dev/null || echo 0)\necho $((n+1)) > " + dir + "/count\n" +
		"if [ \"$n\" -lt " + strconv.Itoa(fails) + " ]; then echo 'F filer.go:504 failed to listen on grpc port 1: bind: address already in use'; exit 1; fi\n" +
		"exec " + real + " \"$@\"\n"
	p := filepath.Join(dir, "weed")
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// A weed that loses a port race is started again on new ports: once
// losing still serves; always losing fails at once with every attempt's
// log, instead of waiting out the 3 minutes for a server that is gone.
func TestStartWeedRetriesLostPorts(t *testing.T) {
	real := Binary(t, "LIFEBOAT_WEED", "LIFEBOAT_REQUIRE_S3", "run hack/tools.sh s3")
	t.Run("loses once", func(t *testing.T) {
		t.Setenv("LIFEBOAT_WEED", fakeWeed(t, 1, real))
		if s := StartWeed(t); s == nil || s.Endpoint == "" {
			t.Fatalf("StartWeed = %+v", s)
		}
	})
	t.Run("always loses", func(t *testing.T) {
		t.Setenv("LIFEBOAT_WEED", fakeWeed(t, startAttempts, real))
		rec := &fatalRecorder{TB: t}
		done := make(chan struct{})
		go func() { defer close(done); StartWeed(rec) }()
		<-done
		if !strings.Contains(rec.msg, "exited before serving") {
			t.Fatalf("StartWeed gave up with %q, want weed exited before serving", rec.msg)
		}
	})
}
