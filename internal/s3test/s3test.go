// Package s3test starts the object storage servers lifeboat's tests run
// against (DESIGN.md §4): SeaweedFS's S3 gateway ("weed mini") and
// Azurite's blob service, both on loopback with test-only credentials,
// from the binaries hack/tools.sh builds (LIFEBOAT_WEED,
// LIFEBOAT_AZURITE). A test without the binary is skipped, or fails when
// LIFEBOAT_REQUIRE_S3=1 (weed) or LIFEBOAT_REQUIRE_AZURITE=1 (Azurite) is
// set, as in CI. It is for tests only.
package s3test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"gocloud.dev/blob"

	// The drivers of the URLs this package hands out.
	_ "gocloud.dev/blob/azureblob"
	_ "gocloud.dev/blob/s3blob"
)

// The S3 server's credentials: made up for the tests, handed to weed and
// to the AWS SDK through the standard environment variables.
const (
	AccessKey = "lifeboat-test"
	SecretKey = "lifeboat-test-secret"
)

// Azurite's well-known development account (published in Microsoft's
// documentation; not a secret).
const (
	AzuriteAccount = "devstoreaccount1"
	AzuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// FreePort is a loopback TCP port free at the time of the call.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Binary returns the path in the environment variable env, skipping the
// test when it is unset or missing, or failing it when the variable
// require is "1". build says how to get the binary.
func Binary(t testing.TB, env, require, build string) string {
	t.Helper()
	p := os.Getenv(env)
	if p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("%s not set or missing (%q); %s, then eval \"$(hack/tools.sh --print | sed 's/^/export /')\"", env, p, build)
	if os.Getenv(require) == "1" {
		t.Fatalf("%s=1: %s", require, msg)
	}
	t.Skip(msg)
	return ""
}

// Server is a SeaweedFS S3 gateway on loopback with one bucket.
type Server struct {
	Endpoint string // http://127.0.0.1:port
	Bucket   string
}

// URL is the gocloud URL of the bucket through endpoint (the server's
// own when "", or a proxy's).
func (s *Server) URL(endpoint string) string {
	if endpoint == "" {
		endpoint = s.Endpoint
	}
	return "s3://" + s.Bucket + "?endpoint=" + url.QueryEscape(endpoint) + "&region=us-east-1&use_path_style=true&disable_https=true"
}

// StartWeed starts "weed mini" (master, volume, filer and S3 gateway in
// one process) on free loopback ports with the bucket "lifeboat", sets
// the test credentials in the AWS environment variables of both the
// server and this process (t.Setenv: not for parallel tests), and waits
// (up to 3 minutes) until an object can be written. A port is free when
// picked but may be taken before weed binds it (another test's server, or
// the source port of any outgoing connection on a busy machine): when weed
// exits before it serves, it is started again on new ports, up to
// startAttempts times. The server stops when the test ends; its log tail
// is printed when the test failed.
func StartWeed(t testing.TB) *Server {
	t.Helper()
	weed := Binary(t, "LIFEBOAT_WEED", "LIFEBOAT_REQUIRE_S3", "run hack/tools.sh s3")
	t.Setenv("AWS_ACCESS_KEY_ID", AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", SecretKey)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return startRetrying(t, "weed", func() (*Server, string) { return startWeedOnce(t, weed) })
}

// startAttempts is how many times a server that exits before serving is
// started on new ports.
const startAttempts = 3

// startRetrying calls once until it returns a server (exit "") or
// startAttempts calls reported the server exiting before it served, then
// fails t with each attempt's reason.
func startRetrying[S any](t testing.TB, what string, once func() (S, string)) S {
	t.Helper()
	var exits []string
	for attempt := 1; attempt <= startAttempts; attempt++ {
		s, exit := once()
		if exit == "" {
			return s
		}
		exits = append(exits, fmt.Sprintf("attempt %d: %s", attempt, exit))
	}
	t.Fatalf("%s exited before serving, %d times:\n%s", what, startAttempts, strings.Join(exits, "\n"))
	var zero S
	return zero
}

// startWeedOnce starts weed on new ports and waits until it serves. It
// returns the server, or (nil, why) when weed exited first (the tail of its
// log). It fails t when weed runs but never serves.
func startWeedOnce(t testing.TB, weed string) (*Server, string) {
	t.Helper()
	dir := t.TempDir()
	s3Port := FreePort(t)
	ports := map[string]int{}
	for _, p := range []string{"master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port", "filer.port.grpc", "s3.port.grpc", "admin.port", "admin.port.grpc"} {
		ports[p] = FreePort(t)
	}
	args := []string{"mini", "-dir=" + dir, "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-bucket=lifeboat",
		"-s3.port=" + strconv.Itoa(s3Port), "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false", "-admin.ui=false",
		"-admin.port.legacy=0", "-master.telemetry=false", "-s3.iam=false"}
	for p, n := range ports {
		args = append(args, "-"+p+"="+strconv.Itoa(n))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, weed, args...)
	cmd.Env = append(os.Environ(), "S3_BUCKET=lifeboat")
	logf, err := os.Create(filepath.Join(dir, "weed.log"))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	logs := func() string { b, _ := os.ReadFile(logf.Name()); return string(Tail(b, 4000)) }
	stop := func() { cancel(); <-exited; logf.Close() }
	s := &Server{Endpoint: "http://127.0.0.1:" + strconv.Itoa(s3Port), Bucket: "lifeboat"}
	if !waitWritable(t, s.URL(""), 3*time.Minute, exited, logs) {
		stop()
		return nil, logs()
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("weed log (tail):\n%s", logs())
		}
	})
	return s, ""
}

// waitWritable waits up to d until an object can be written to the
// bucket at u, failing the test with logs() after that. It returns false
// as soon as exited is closed (the server process ended).
func waitWritable(t testing.TB, u string, d time.Duration, exited <-chan struct{}, logs func() string) bool {
	t.Helper()
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		b, err := blob.OpenBucket(ctx, u)
		if err == nil {
			err = b.WriteAll(ctx, "probe", []byte("x"), nil)
			if err == nil {
				err = b.Delete(ctx, "probe")
			}
			b.Close()
		}
		cancel()
		if err == nil {
			return true
		}
		last = err
		select {
		case <-exited:
			return false
		case <-time.After(500 * time.Millisecond):
		}
	}
	t.Fatalf("storage not writable after %v: %v\n%s", d, last, logs())
	return false
}

// Tail is the last n bytes of b.
func Tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// StartAzurite starts Azurite's blob service on a free loopback port with
// the container "lifeboat", and points the AZURE_STORAGE_* variables at
// it (t.Setenv). It returns the azblob:// URL of the container. Like
// StartWeed, it starts Azurite again on a new port when it exits before
// serving (the port was taken), up to startAttempts times.
func StartAzurite(t testing.TB) string {
	t.Helper()
	bin := Binary(t, "LIFEBOAT_AZURITE", "LIFEBOAT_REQUIRE_AZURITE", "run hack/tools.sh azurite")
	t.Setenv("AZURE_STORAGE_ACCOUNT", AzuriteAccount)
	t.Setenv("AZURE_STORAGE_KEY", AzuriteKey)
	return startRetrying(t, "azurite", func() (string, string) { return startAzuriteOnce(t, bin) })
}

// startAzuriteOnce starts Azurite on a new port and creates the container.
// It returns the container's URL, or ("", why) when Azurite exited first.
// It fails t when Azurite runs but never serves.
func startAzuriteOnce(t testing.TB, bin string) (string, string) {
	t.Helper()
	port := FreePort(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--blobHost", "127.0.0.1", "--blobPort", strconv.Itoa(port),
		"--location", dir, "--skipApiVersionCheck", "--loose")
	var logs bytes.Buffer
	var mu sync.Mutex
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(p) })
	cmd.Stdout, cmd.Stderr = w, w
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	out := func() string { mu.Lock(); defer mu.Unlock(); return string(Tail(logs.Bytes(), 4000)) }
	stop := func() { cancel(); <-exited }
	domain := "127.0.0.1:" + strconv.Itoa(port)
	conn := fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=http://%s/%s;", AzuriteAccount, AzuriteKey, domain, AzuriteAccount)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		cli, err := azblob.NewClientFromConnectionString(conn, nil)
		if err == nil {
			_, err = cli.CreateContainer(t.Context(), "lifeboat", nil)
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("azurite: creating the container: %v\n%s", err, out())
		}
		select {
		case <-exited:
			return "", out()
		case <-time.After(300 * time.Millisecond):
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("azurite log:\n%s", out())
		}
	})
	return "azblob://lifeboat?protocol=http&domain=" + domain, ""
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
