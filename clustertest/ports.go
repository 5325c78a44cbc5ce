package clustertest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
)

// portReservations are the loopback ports one cluster chose for its API
// server and etcd members. The ports are chosen before anything binds them,
// the kernel may offer the same free port twice, and clusters start side by
// side: parallel tests in one process, and "go test -p N" runs several test
// processes at once. So each port is reserved with an exclusive lock on a
// file named after it in a directory shared by every process of the machine
// (os.TempDir()/lifeboat-clustertest-ports); the lock lives as long as the
// cluster and the kernel drops it when the process dies, so a crashed test
// leaves nothing reserved.
type portReservations struct {
	mu   sync.Mutex
	held map[int]*os.File
}

// portLockDir is where the reservation files live.
func portLockDir() string { return filepath.Join(os.TempDir(), "lifeboat-clustertest-ports") }

// allocPort returns a free loopback port that no other running cluster, in
// this process or another, holds.
func (c *Cluster) allocPort() (int, error) { return c.ports.alloc() }

// alloc returns a free loopback port, reserved for r's owner until release.
func (r *portReservations) alloc() (int, error) {
	dir := portLockDir()
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return 0, fmt.Errorf("clustertest: reserving a port: %w", err)
	}
	for range 100 {
		p, err := freePort()
		if err != nil {
			return 0, err
		}
		ok, err := r.reserve(dir, p)
		if err != nil {
			return 0, err
		}
		if ok {
			return p, nil
		}
	}
	return 0, errors.New("clustertest: no free port: 100 candidates were all reserved by other clusters")
}

// reserve takes the lock of port p, reporting false when another cluster
// holds it (or this one already does).
func (r *portReservations) reserve(dir string, p int) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, mine := r.held[p]; mine {
		return false, nil
	}
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(p)), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return false, fmt.Errorf("clustertest: reserving port %d: %w", p, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return false, nil
		}
		return false, fmt.Errorf("clustertest: reserving port %d: %w", p, err)
	}
	if r.held == nil {
		r.held = map[int]*os.File{}
	}
	r.held[p] = f
	return true, nil
}

// release drops every reservation; Close (of a Cluster or an EtcdCluster)
// calls it once the cluster's processes are gone.
func (r *portReservations) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for p, f := range r.held {
		f.Close() // closing the only descriptor drops the lock
		delete(r.held, p)
	}
}
