package offsite_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"gocloud.dev/blob"
)

// The S3 server's credentials: made up for the test, handed to weed and
// to the AWS SDK through the standard environment variables.
const (
	testAccessKey = "lifeboat-test"
	testSecretKey = "lifeboat-test-secret"
)

// freePort is a loopback TCP port free at the time of the call.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// binary finds the test server env names, skipping (or, when require is
// set to 1, failing) the test without it.
func binary(t *testing.T, env, require, build string) string {
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

// s3Server is a SeaweedFS S3 gateway on loopback with one bucket.
type s3Server struct {
	Endpoint string // http://127.0.0.1:port
	Bucket   string
}

// URL is the gocloud URL of the bucket through endpoint (the server's
// own, or a proxy's).
func (s *s3Server) URL(endpoint string) string {
	if endpoint == "" {
		endpoint = s.Endpoint
	}
	return "s3://" + s.Bucket + "?endpoint=" + url.QueryEscape(endpoint) + "&region=us-east-1&use_path_style=true&disable_https=true"
}

// startWeed starts "weed mini" (master, volume, filer and S3 gateway in
// one process) on free loopback ports, with the test credentials in the
// AWS environment variables of both the server and this process.
func startWeed(t *testing.T) *s3Server {
	t.Helper()
	weed := binary(t, "LIFEBOAT_WEED", "LIFEBOAT_REQUIRE_S3", "run hack/tools.sh s3")
	t.Setenv("AWS_ACCESS_KEY_ID", testAccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", testSecretKey)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	dir := t.TempDir()
	s3Port := freePort(t)
	ports := map[string]int{}
	for _, p := range []string{"master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port", "filer.port.grpc", "s3.port.grpc", "admin.port", "admin.port.grpc"} {
		ports[p] = freePort(t)
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
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("weed log (tail):\n%s", tail(b, 4000))
		}
	})
	s := &s3Server{Endpoint: "http://127.0.0.1:" + strconv.Itoa(s3Port), Bucket: "lifeboat"}
	waitWritable(t, s.URL(""), 3*time.Minute, func() string { b, _ := os.ReadFile(logf.Name()); return string(tail(b, 4000)) })
	return s
}

// waitWritable waits until an object can be written to the bucket.
func waitWritable(t *testing.T, u string, d time.Duration, logs func() string) {
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
			return
		}
		last = err
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("storage not writable after %v: %v\n%s", d, last, logs())
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// Azurite's well-known development account (published in Microsoft's
// documentation; not a secret).
const (
	azuriteAccount = "devstoreaccount1"
	azuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// startAzurite starts Azurite's blob service on a free loopback port with
// a container, and points the AZURE_STORAGE_* variables at it. It returns
// the azblob:// URL of the container.
func startAzurite(t *testing.T) string {
	t.Helper()
	bin := binary(t, "LIFEBOAT_AZURITE", "LIFEBOAT_REQUIRE_AZURITE", "run hack/tools.sh azurite")
	port := freePort(t)
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
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			mu.Lock()
			t.Logf("azurite log:\n%s", tail(logs.Bytes(), 4000))
			mu.Unlock()
		}
	})
	t.Setenv("AZURE_STORAGE_ACCOUNT", azuriteAccount)
	t.Setenv("AZURE_STORAGE_KEY", azuriteKey)
	domain := "127.0.0.1:" + strconv.Itoa(port)
	conn := fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=http://%s/%s;", azuriteAccount, azuriteKey, domain, azuriteAccount)
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
			mu.Lock()
			out := logs.String()
			mu.Unlock()
			t.Fatalf("azurite: creating the container: %v\n%s", err, out)
		}
		time.Sleep(300 * time.Millisecond)
	}
	return "azblob://lifeboat?protocol=http&domain=" + domain
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

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
