package clustertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/lifeboat-dev/lifeboat/release"
)

// The etcd-rev container of the 4.18+ etcd static pod ("cluster-etcd-operator
// rev"): while it runs on a host it asks every master's etcd endpoint for
// its Status and rewrites /var/lib/etcd/revision.json (written as .tmp
// and renamed) whenever at least one answered, in the real shape:
//
//	{"clusterId":<id>,"raftIndex":{"https://<ip>:2379":<index>,...},"maxRaftIndex":<max>,"created":"<time.Now().UTC().String()>"}
//
// The real container polls every 10 s; the simulation every ten
// controller intervals (one second by default). It writes only while the
// host's etcd pod shows the etcd-rev container running and the data
// directory holds a member (a data directory moved away is left alone,
// so a restore that emptied it finds it empty).

// revisionJSONPath is where the etcd-rev container writes.
const revisionJSONPath = "/var/lib/etcd/revision.json"

// revisionJSON is revision.json as the etcd-rev container writes it.
type revisionJSON struct {
	ClusterID    uint64            `json:"clusterId,omitempty"`
	RaftIndex    map[string]uint64 `json:"raftIndex,omitempty"`
	MaxRaftIndex uint64            `json:"maxRaftIndex,omitempty"`
	Created      string            `json:"created,omitempty"`
}

// syncEtcdRev is one pass of every host's etcd-rev container.
func (c *Cluster) syncEtcdRev(ctx context.Context) error {
	if c.generation() != release.GenerationEtcdOnly {
		return nil
	}
	every := maxIdleTicks * c.controllerInterval()
	var errs []error
	for _, n := range c.Masters() {
		h := c.Host(n)
		if h == nil || !h.Powered() {
			continue
		}
		s := c.sim()
		s.mu.Lock()
		last, ok := s.revWritten[h]
		s.mu.Unlock()
		if ok && time.Since(last) < every {
			continue
		}
		if err := c.writeRevisionJSON(ctx, h); err != nil {
			errs = append(errs, fmt.Errorf("etcd-rev on %s: %w", n, err))
		}
	}
	return errors.Join(errs...)
}

// etcdRevRunning reports whether h's etcd pod runs the etcd-rev container
// on a data directory with a member.
func etcdRevRunning(ctx context.Context, h *Host) bool {
	cs, err := h.kubelet.Containers(ctx, release.EtcdRevContainer)
	if err != nil {
		return false
	}
	running := false
	for _, ctr := range cs {
		if ctr.Name == release.EtcdRevContainer {
			running = true
		}
	}
	if !running {
		return false
	}
	_, err = os.Stat(h.path("/var/lib/etcd/member"))
	return err == nil
}

// writeRevisionJSON is one poll of h's etcd-rev container.
func (c *Cluster) writeRevisionJSON(ctx context.Context, h *Host) error {
	if !etcdRevRunning(ctx, h) {
		return nil
	}
	out := revisionJSON{RaftIndex: map[string]uint64{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range c.Masters() {
		m := c.Host(n)
		if m == nil {
			continue
		}
		ep := m.EtcdClientURL()
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl, err := c.etcdClientFor(ep, []string{ep})
			if err != nil {
				return
			}
			sctx, cancel := context.WithTimeout(ctx, etcdHealthTimeout)
			defer cancel()
			st, err := cl.Status(sctx, ep)
			if err != nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			out.RaftIndex[ep] = st.RaftIndex
			out.MaxRaftIndex = max(out.MaxRaftIndex, st.RaftIndex)
			out.ClusterID = st.Header.ClusterId
		}()
	}
	wg.Wait()
	if len(out.RaftIndex) == 0 {
		return nil // no endpoint answered: the file is left as it is
	}
	out.Created = time.Now().UTC().String()
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	// The pod may have stopped while the endpoints were asked.
	if !etcdRevRunning(ctx, h) {
		return nil
	}
	dst := h.path(revisionJSONPath)
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	s := c.sim()
	s.mu.Lock()
	if s.revWritten == nil {
		s.revWritten = map[*Host]time.Time{}
	}
	s.revWritten[h] = time.Now()
	s.mu.Unlock()
	return nil
}
