package host_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/util/httpstream/spdy"
	"k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/client-go/rest"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/host/debugpod"
)

// execServer plays the API server's pods/exec subresource, and the
// kubelet behind it, for the debug pod's container: it speaks the SPDY
// remote command protocol (v4, exit codes as a Status on the error stream)
// and refuses WebSocket upgrades, so the client's fallback is exercised
// too. The command must be "chroot /host ..."; it runs the rest on this
// machine, whose root stands for the node's /host.
type execServer struct {
	*httptest.Server
	mu       sync.Mutex
	commands [][]string
	wsTries  int
}

func newExecServer(t *testing.T, pod string) *execServer {
	t.Helper()
	s := &execServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want := "/api/v1/namespaces/default/pods/" + pod + "/exec"
		if r.URL.Path != want {
			http.Error(w, "unexpected path "+r.URL.Path, http.StatusNotFound)
			return
		}
		if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			s.mu.Lock()
			s.wsTries++
			s.mu.Unlock()
			http.Error(w, "this server speaks SPDY only", http.StatusBadRequest)
			return
		}
		s.serveSPDY(t, w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *execServer) serveSPDY(t *testing.T, w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	argv := q["command"]
	s.mu.Lock()
	s.commands = append(s.commands, argv)
	s.mu.Unlock()
	if q.Get("container") != "container-00" || len(argv) < 3 || argv[0] != "chroot" || argv[1] != "/host" {
		http.Error(w, "unexpected exec "+r.URL.RawQuery, http.StatusBadRequest)
		return
	}
	if _, err := httpstream.Handshake(r, w, []string{remotecommand.StreamProtocolV4Name}); err != nil {
		return
	}
	streams := make(chan httpstream.Stream, 4)
	conn := spdy.NewResponseUpgrader().UpgradeResponse(w, r, func(st httpstream.Stream, _ <-chan struct{}) error {
		streams <- st
		return nil
	})
	if conn == nil {
		return
	}
	defer conn.Close()
	want := 1 // the error stream
	for _, k := range []string{"stdin", "stdout", "stderr"} {
		if q.Get(k) == "true" || q.Get(k) == "1" {
			want++
		}
	}
	byType := map[string]httpstream.Stream{}
	for len(byType) < want {
		select {
		case st := <-streams:
			byType[st.Headers().Get(corev1.StreamType)] = st
		case <-time.After(10 * time.Second):
			t.Errorf("exec: got streams %v, want %d", byType, want)
			return
		}
	}
	cmd := exec.Command(argv[2], argv[3:]...)
	if st := byType[corev1.StreamTypeStdin]; st != nil {
		cmd.Stdin = st
	}
	if st := byType[corev1.StreamTypeStdout]; st != nil {
		cmd.Stdout = st
	}
	if st := byType[corev1.StreamTypeStderr]; st != nil {
		cmd.Stderr = st
	}
	status := metav1.Status{Status: metav1.StatusSuccess}
	var ee *exec.ExitError
	if err := cmd.Run(); errors.As(err, &ee) {
		status = metav1.Status{
			Status: metav1.StatusFailure,
			Reason: remotecommand.NonZeroExitCodeReason,
			Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{
				Type:    remotecommand.ExitCodeCauseType,
				Message: strconv.Itoa(ee.ExitCode()),
			}}},
		}
	} else if err != nil {
		status = metav1.Status{Status: metav1.StatusFailure, Message: err.Error()}
	}
	errStream := byType[corev1.StreamTypeError]
	json.NewEncoder(errStream).Encode(status)
	for _, st := range byType {
		st.Close()
	}
}

// TestDebugPodSuite runs every typed operation of a DebugPod through the
// exec subresource of a protocol-faithful fake server (execServer); the
// pod's life cycle uses the fake clientset.
func TestDebugPodSuite(t *testing.T) {
	bin, log := host.FakeCommands(t)
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	kube := fakeKube(corev1.PodStatus{Phase: corev1.PodRunning})
	srv := newExecServer(t, "master-0-debug-x7k2q")
	ctx := context.Background()
	d, err := debugpod.New(ctx, kube, &rest.Config{Host: srv.URL}, debugpod.Config{Node: "master-0", PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	host.RunSuite(t, d, t.TempDir(), log)

	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.wsTries != 1 {
		t.Errorf("WebSocket tried %d times, want once (then SPDY only)", srv.wsTries)
	}
	for _, argv := range srv.commands {
		if len(argv) != 5 || argv[0] != "chroot" || argv[1] != "/host" || argv[2] != "sh" || argv[3] != "-c" {
			t.Errorf("exec command %q, want chroot /host sh -c <line>", argv)
		}
	}
}
