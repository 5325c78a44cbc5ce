package host

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLocalRun(t *testing.T) {
	h := NewLocal("master-0", t.TempDir(), LocalOptions{})
	tests := []struct {
		name       string
		stdin      string
		argv       []string
		wantOut    string
		wantCode   int // 0: success
		wantStderr string
	}{
		{name: "stdout", argv: []string{"echo", "hello"}, wantOut: "hello\n"},
		{name: "stdin", stdin: "from stdin", argv: []string{"cat"}, wantOut: "from stdin"},
		{name: "exit code", argv: []string{"sh", "-c", "echo out; echo oops >&2; exit 3"}, wantOut: "out\n", wantCode: 3, wantStderr: "oops\n"},
		{name: "false", argv: []string{"false"}, wantCode: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdin io.Reader
			if tt.stdin != "" {
				stdin = strings.NewReader(tt.stdin)
			}
			out, err := h.Run(context.Background(), stdin, tt.argv...)
			if string(out) != tt.wantOut {
				t.Errorf("stdout = %q, want %q", out, tt.wantOut)
			}
			if tt.wantCode == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ee *ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("err = %v, want *ExitError", err)
			}
			if ee.Code != tt.wantCode || string(ee.Stderr) != tt.wantStderr || ee.Host != "master-0" || !reflect.DeepEqual(ee.Argv, tt.argv) {
				t.Errorf("ExitError = %+v", ee)
			}
		})
	}
	if _, err := h.Run(context.Background(), nil, "/nonexistent/command"); err == nil {
		t.Error("running a missing command succeeded")
	}
	if _, err := h.Run(context.Background(), nil); err == nil {
		t.Error("running an empty command succeeded")
	}
}

func TestLocalRunCancel(t *testing.T) {
	h := NewLocal("master-0", t.TempDir(), LocalOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	// The grandchild sleep keeps stdout open: Run must not wait for it.
	_, err := h.Run(ctx, nil, "sh", "-c", "sleep 30; echo late")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("Run returned %v after cancellation", d)
	}
}

type fakeRuntime struct {
	calls      []string
	containers []Container
	err        error
}

func (f *fakeRuntime) Containers(ctx context.Context, name string) ([]Container, error) {
	f.calls = append(f.calls, "containers "+name)
	return f.containers, f.err
}

func (f *fakeRuntime) RestartKubelet(ctx context.Context) error {
	f.calls = append(f.calls, "restart-kubelet")
	return f.err
}

func (f *fakeRuntime) Shutdown(ctx context.Context, delay time.Duration) error {
	f.calls = append(f.calls, "shutdown "+delay.String())
	return f.err
}

func TestLocalRuntimeDelegation(t *testing.T) {
	rt := &fakeRuntime{containers: []Container{{ID: "1", Name: "etcd", Pod: "etcd-master-0", State: "Running"}}}
	h := NewLocal("master-0", t.TempDir(), LocalOptions{Runtime: rt})
	ctx := context.Background()
	cs, err := h.Containers(ctx, "etcd")
	if err != nil || !reflect.DeepEqual(cs, rt.containers) {
		t.Fatalf("Containers = %v, %v", cs, err)
	}
	if err := h.RestartKubelet(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.Shutdown(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	want := []string{"containers etcd", "restart-kubelet", "shutdown 1m0s"}
	if !reflect.DeepEqual(rt.calls, want) {
		t.Errorf("calls = %q, want %q", rt.calls, want)
	}
	rt.err = errors.New("runtime down")
	if err := h.RestartKubelet(ctx); !errors.Is(err, rt.err) {
		t.Errorf("RestartKubelet error = %v, want the runtime's", err)
	}
}

// TestLocalDefaultRuntime runs the real commands' names against scripts on
// PATH that record their arguments.
func TestLocalDefaultRuntime(t *testing.T) {
	bin := t.TempDir()
	log := filepath.Join(bin, "calls.log")
	script := func(name, body string) {
		t.Helper()
		s := "#!/bin/sh\necho \"" + name + " $*\" >> " + log + "\n" + body
		if err := os.WriteFile(filepath.Join(bin, name), []byte(s), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script("crictl", `cat <<'EOF'
{"containers":[{"id":"abc123","podSandboxId":"p1","metadata":{"name":"etcd","attempt":2},"state":"CONTAINER_RUNNING","createdAt":"1600000000000000000","labels":{"io.kubernetes.pod.name":"etcd-master-0","io.kubernetes.pod.namespace":"openshift-etcd"}}]}
EOF`)
	script("systemctl", "")
	script("shutdown", "")
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	h := NewLocal("master-0", "/", LocalOptions{})
	ctx := context.Background()
	cs, err := h.Containers(ctx, "kube-apiserver")
	if err != nil {
		t.Fatal(err)
	}
	want := []Container{{ID: "abc123", Name: "etcd", Pod: "etcd-master-0", State: "Running"}}
	if !reflect.DeepEqual(cs, want) {
		t.Errorf("Containers = %+v, want %+v", cs, want)
	}
	if err := h.RestartKubelet(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.Shutdown(ctx, 90*time.Second); err != nil {
		t.Fatal(err)
	}
	calls := strings.Split(strings.TrimSpace(readString(t, log)), "\n")
	wantCalls := []string{
		"crictl ps --name kube-apiserver -o json",
		"systemctl restart kubelet.service",
		"shutdown -h +2",
	}
	if !reflect.DeepEqual(calls, wantCalls) {
		t.Errorf("commands run = %q, want %q", calls, wantCalls)
	}
}

func TestShutdownArgv(t *testing.T) {
	tests := []struct {
		delay time.Duration
		want  string
	}{
		{0, "+1"},
		{-time.Minute, "+1"},
		{time.Second, "+1"},
		{time.Minute, "+1"},
		{time.Minute + time.Second, "+2"},
		{10 * time.Minute, "+10"},
	}
	for _, tt := range tests {
		t.Run(tt.delay.String(), func(t *testing.T) {
			got := shutdownArgv(tt.delay)
			if want := []string{"shutdown", "-h", tt.want}; !reflect.DeepEqual(got, want) {
				t.Errorf("shutdownArgv(%v) = %q, want %q", tt.delay, got, want)
			}
		})
	}
}

func TestParseCrictlPS(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Container
		wantErr bool
	}{
		{name: "empty output", in: "", want: nil},
		{name: "no containers", in: `{"containers":[]}`, want: []Container{}},
		{
			name: "two",
			in: `{"containers":[
{"id":"a1","metadata":{"name":"etcd"},"state":"CONTAINER_RUNNING","labels":{"io.kubernetes.pod.name":"etcd-m0"}},
{"id":"b2","metadata":{"name":"etcd-metrics"},"state":"CONTAINER_EXITED","labels":{"io.kubernetes.pod.name":"etcd-m0"}}]}`,
			want: []Container{
				{ID: "a1", Name: "etcd", Pod: "etcd-m0", State: "Running"},
				{ID: "b2", Name: "etcd-metrics", Pod: "etcd-m0", State: "Exited"},
			},
		},
		{name: "garbage", in: "CONTAINER ID  IMAGE", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCrictlPS([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCrictlArgvQuotesName(t *testing.T) {
	got := crictlArgv("kube.apiserver")
	want := []string{"crictl", "ps", "--name", `kube\.apiserver`, "-o", "json"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("crictlArgv = %q, want %q", got, want)
	}
	if got := crictlArgv(""); !reflect.DeepEqual(got, []string{"crictl", "ps", "-o", "json"}) {
		t.Errorf("crictlArgv(\"\") = %q", got)
	}
}
