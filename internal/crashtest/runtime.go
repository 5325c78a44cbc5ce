package crashtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/host"
)

// runtimeCall is one request to the parent's runtime server.
type runtimeCall struct {
	Op    string        `json:"op"` // "containers", "restart-kubelet", "shutdown"
	Host  string        `json:"host"`
	Name  string        `json:"name,omitempty"`
	Delay time.Duration `json:"delay,omitempty"`
}

type runtimeReply struct {
	Containers []host.Container `json:"containers,omitempty"`
	Err        string           `json:"err,omitempty"`
}

// ServeRuntime serves, on a loopback port until the test ends, the
// operations of hosts that are not files (Containers, RestartKubelet,
// Shutdown) for children, carried out by lookup(name): for clustertest,
// the Cluster's Host, whose simulated kubelet runs in this process. It
// returns the server's URL for Spec.RuntimeURL.
func ServeRuntime(t testing.TB, lookup func(name string) host.Host) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("crashtest: runtime server: %v", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var call runtimeCall
		var reply runtimeReply
		if err := json.NewDecoder(req.Body).Decode(&call); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h := lookup(call.Host)
		if h == nil {
			reply.Err = "no host " + call.Host
		} else {
			ctx := req.Context()
			var err error
			switch call.Op {
			case "containers":
				reply.Containers, err = h.Containers(ctx, call.Name)
			case "restart-kubelet":
				err = h.RestartKubelet(ctx)
			case "shutdown":
				err = h.Shutdown(ctx, call.Delay)
			default:
				err = fmt.Errorf("unknown operation %q", call.Op)
			}
			if err != nil {
				reply.Err = err.Error()
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(reply)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// remoteRuntime is host.Runtime carried out by the parent's server.
type remoteRuntime struct {
	url  string
	host string
}

var _ host.Runtime = (*remoteRuntime)(nil)

func (r *remoteRuntime) call(ctx context.Context, c runtimeCall) (runtimeReply, error) {
	var reply runtimeReply
	c.Host = r.host
	b, err := json.Marshal(c)
	if err != nil {
		return reply, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(b))
	if err != nil {
		return reply, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return reply, fmt.Errorf("host %s: %s: %w", r.host, c.Op, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply, fmt.Errorf("host %s: %s: %w", r.host, c.Op, err)
	}
	if resp.StatusCode != http.StatusOK {
		return reply, fmt.Errorf("host %s: %s: %s: %s", r.host, c.Op, resp.Status, bytes.TrimSpace(body))
	}
	if err := json.Unmarshal(body, &reply); err != nil {
		return reply, fmt.Errorf("host %s: %s: %w", r.host, c.Op, err)
	}
	if reply.Err != "" {
		return reply, fmt.Errorf("host %s: %s: %w", r.host, c.Op, errors.New(reply.Err))
	}
	return reply, nil
}

func (r *remoteRuntime) Containers(ctx context.Context, name string) ([]host.Container, error) {
	reply, err := r.call(ctx, runtimeCall{Op: "containers", Name: name})
	return reply.Containers, err
}

func (r *remoteRuntime) RestartKubelet(ctx context.Context) error {
	_, err := r.call(ctx, runtimeCall{Op: "restart-kubelet"})
	return err
}

func (r *remoteRuntime) Shutdown(ctx context.Context, delay time.Duration) error {
	_, err := r.call(ctx, runtimeCall{Op: "shutdown", Delay: delay})
	return err
}
