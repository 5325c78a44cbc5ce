package crashtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// Killer kills the process at the first work point of its step (see the
// package documentation). A Killer with no step never kills.
type Killer struct {
	step      string
	marker    string
	stateHost string
	statePath string
	last      bool

	mu     sync.Mutex
	active bool // the step has started and not ended
}

// newKiller returns the Killer of spec.
func newKiller(spec Spec) *Killer {
	return &Killer{step: spec.KillStep, marker: spec.Marker, stateHost: spec.StateHost, statePath: spec.StatePath, last: spec.KillAt == PointLast}
}

// Report follows the plan's events; chain it into plan.RunOptions.Report
// (or the plan's own Report option) before any other reporter.
func (k *Killer) Report(e plan.Event) {
	if k.step == "" || e.Step.ID != k.step {
		return
	}
	switch e.Status {
	case plan.Started:
		k.mu.Lock()
		k.active = true
		k.mu.Unlock()
	case plan.Progress:
		k.point("progress: "+oneLine(e.Message), false)
	case plan.Done, plan.Skipped:
		// A plan without state forgets the step with the process: dying
		// here loses nothing more than dying in the step would.
		k.point("at the step's "+string(e.Status)+" event", true)
	}
}

// point kills the process if the step is running and the point is one
// the Killer waits for (end: the step's end; otherwise a work point).
func (k *Killer) point(what string, end bool) {
	k.mu.Lock()
	active := k.active
	k.mu.Unlock()
	if !active || (k.last && !end) {
		return
	}
	line := fmt.Sprintf("%s\t%s\n", k.step, what)
	if f, err := os.OpenFile(k.marker, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_SYNC, 0o600); err == nil {
		f.WriteString(line)
		f.Close()
	}
	fmt.Fprintf(os.Stderr, "CRASHTEST: SIGKILL in %s", line)
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal is on its way
}

// records reports whether b, a plan state document, records the step as
// finished (restore.StateData's "finished" map).
func (k *Killer) records(b []byte) bool {
	var d struct {
		Finished map[string]any `json:"finished"`
	}
	if json.Unmarshal(b, &d) != nil {
		return false
	}
	_, ok := d.Finished[k.step]
	return ok
}

// Host wraps h so that its mutations are work points.
func (k *Killer) Host(h host.Host) host.Host { return &killingHost{Host: h, k: k} }

type killingHost struct {
	host.Host
	k *Killer
}

func (h *killingHost) after(op, p string, err error) error {
	if err == nil {
		h.k.point(fmt.Sprintf("host %s: %s %s done", h.Name(), op, p), false)
	}
	return err
}

func (h *killingHost) WriteFile(ctx context.Context, p string, r io.Reader, perm fs.FileMode) error {
	if h.k.statePath != "" && p == h.k.statePath && h.Name() == h.k.stateHost {
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		if h.k.records(b) {
			h.k.point("before the state records the step as finished", true)
		}
		r = bytes.NewReader(b)
	}
	return h.after("write", p, h.Host.WriteFile(ctx, p, r, perm))
}

func (h *killingHost) MkdirAll(ctx context.Context, p string, perm fs.FileMode) error {
	// MkdirAll of an existing directory changes nothing: not a work point.
	fi, serr := h.Host.Stat(ctx, p)
	err := h.Host.MkdirAll(ctx, p, perm)
	if serr == nil && fi.IsDir() {
		return err
	}
	return h.after("mkdir", p, err)
}

func (h *killingHost) Move(ctx context.Context, src, dst string) error {
	return h.after("move", src+" -> "+dst, h.Host.Move(ctx, src, dst))
}

func (h *killingHost) RestartKubelet(ctx context.Context) error {
	return h.after("restart", "kubelet", h.Host.RestartKubelet(ctx))
}

func (h *killingHost) Shutdown(ctx context.Context, d time.Duration) error {
	return h.after("shutdown", d.String(), h.Host.Shutdown(ctx, d))
}

// Transport wraps an API client's transport so that a mutating request
// that got an answer is a work point (rest.Config.WrapTransport).
func (k *Killer) Transport(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(req)
		switch req.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
			if err == nil && resp.StatusCode < 300 {
				k.point(fmt.Sprintf("API %s %s answered %d", req.Method, req.URL.Path, resp.StatusCode), false)
			}
		}
		return resp, err
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// etcdMutations are the etcd RPCs that change the cluster.
var etcdMutations = []string{"/KV/Put", "/KV/DeleteRange", "/KV/Txn", "/Cluster/MemberAdd", "/Cluster/MemberRemove", "/Cluster/MemberPromote", "/Cluster/MemberUpdate"}

// GRPCInterceptor makes an answered etcd mutation a work point (add it to
// clientv3.Config.DialOptions with grpc.WithChainUnaryInterceptor).
func (k *Killer) GRPCInterceptor(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	if err == nil {
		for _, m := range etcdMutations {
			if strings.HasSuffix(method, m) {
				k.point("etcd "+method+" answered", false)
			}
		}
	}
	return err
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 100 {
		s = s[:100] + "..."
	}
	return s
}
