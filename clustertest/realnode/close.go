package realnode

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// nodeReady reports whether the Node's Ready condition is True, posted
// by this kubelet (a heartbeat after since: a Node left by an earlier
// node may still say Ready).
func (n *Node) nodeReady(ctx context.Context, since time.Time) bool {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	node, err := n.cluster.Kube.CoreV1().Nodes().Get(rctx, n.opts.Name, metav1.GetOptions{})
	if err != nil {
		return false
	}
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue && !c.LastHeartbeatTime.Time.Before(since.Truncate(time.Second))
		}
	}
	return false
}

// Close stops the node and undoes what New did to the machine: the
// kubelet is stopped, every pod sandbox removed (crictl rmp), containerd
// stopped, any process left in the node's cgroups or serving its socket
// killed, the mounts under Root detached, the cgroups removed, the node IP
// taken off lo, the kernel settings put back, the paths containerd and the
// kubelet create outside Root removed, the Node deleted from the API (when
// it answers) and Root removed. Then it compares the machine with what
// New recorded: a difference is an error wrapping ErrNotRestored. The lock
// is released last. Close is idempotent; later calls return the first
// result.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return n.closeErr
	}
	n.closed = true
	kubelet, containerd := n.kubelet, n.containerd
	n.mu.Unlock()

	var errs []error
	note := func(err error) {
		if err != nil {
			n.log.Warn("closing real node", "err", err)
			errs = append(errs, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // Close takes no ctx: it must finish
	defer cancel()
	if kubelet != nil {
		note(kubelet.stop(15 * time.Second))
	}
	if containerd != nil && containerd.running() {
		// A sandbox whose shim is going away may refuse once; what
		// survives both tries is killed below, and the final comparison
		// is what decides.
		for try := 1; try <= 2; try++ {
			_, err := n.Crictl(ctx, "rmp", "--force", "--all")
			if err == nil {
				break
			}
			n.log.Warn("removing the pod sandboxes", "try", try, "err", err)
		}
		note(containerd.stop(15 * time.Second))
	}
	for _, err := range n.undo(ctx) {
		note(err)
	}
	if n.cluster != nil && n.before.Sysctls != nil {
		dctx, dcancel := context.WithTimeout(ctx, 20*time.Second)
		err := n.cluster.Kube.CoreV1().Nodes().Delete(dctx, n.opts.Name, metav1.DeleteOptions{})
		dcancel()
		if err != nil && !apierrors.IsNotFound(err) {
			n.log.Warn("deleting the Node", "err", err) // the API may be gone with its cluster: not the machine's state
		}
	}
	if n.dir != "" {
		if err := os.RemoveAll(n.dir); err != nil {
			note(fmt.Errorf("realnode: removing %s: %w", n.dir, err))
		}
	}
	if n.before.Sysctls != nil {
		after, err := snapshot()
		note(err)
		if err == nil {
			if d := n.before.Diff(after); len(d) > 0 {
				note(fmt.Errorf("%w: %s", ErrNotRestored, strings.Join(d, "; ")))
			}
		}
	}
	if len(errs) == 0 && n.before.Sysctls != nil { // this node wrote the record
		note(removeRecord())
	}
	if n.lock != nil {
		n.lock.unlock()
	}
	n.mu.Lock()
	n.closeErr = errors.Join(errs...)
	n.mu.Unlock()
	return n.closeErr
}

// killLeftovers kills what outlived containerd: processes in the node's
// cgroups (containers), and shims serving its socket.
func (n *Node) killLeftovers() error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		var pids []int
		for _, cg := range n.madeCgroups {
			pids = append(pids, cgroupPids(cg)...)
		}
		pids = append(pids, n.shimPids()...)
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("realnode: processes %v still running", pids)
		}
		for _, pid := range pids {
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				return fmt.Errorf("realnode: killing %d: %w", pid, err)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// shimPids are the containerd shims started for this node's socket.
func (n *Node) shimPids() []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 0 && strings.HasPrefix(filepath.Base(args[0]), "containerd-shim") && strings.Contains(string(b), n.Socket()) {
			out = append(out, pid)
		}
	}
	return out
}

// unmountAll detaches every mount under Root, deepest first.
func (n *Node) unmountAll() error {
	var errs []error
	for try := 0; try < 5; try++ {
		mps, err := nodeMounts(n.dir)
		if err != nil {
			return err
		}
		if len(mps) == 0 {
			return nil
		}
		errs = errs[:0]
		for _, mp := range mps {
			if err := syscall.Unmount(mp, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("realnode: unmounting %s: %w", mp, err))
			}
		}
	}
	return errors.Join(errs...)
}

// undo puts back what the node changed outside its processes: leftover
// processes killed, mounts under Root detached, cgroups removed, the node
// IP taken off lo, kernel settings and host paths put back as recorded.
// Close runs it after stopping the kubelet and containerd; New runs it on
// the record of a node whose process died without Close (recover).
func (n *Node) undo(ctx context.Context) []error {
	var errs []error
	note := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if n.dir != "" {
		note(n.killLeftovers())
		note(n.unmountAll())
	}
	for _, cg := range n.madeCgroups {
		var err error
		for try := 0; try < 50; try++ { // processes leave a cgroup as they are reaped
			if err = removeCgroupTree(cg); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			note(fmt.Errorf("realnode: removing cgroup %s: %w", cg, err))
		}
	}
	if n.addedAddr {
		if out, err := exec.CommandContext(ctx, "ip", "addr", "del", n.opts.NodeIP+"/32", "dev", "lo").CombinedOutput(); err != nil {
			note(fmt.Errorf("realnode: removing %s from lo: %w: %s", n.opts.NodeIP, err, strings.TrimSpace(string(out))))
		}
	}
	for k, v := range n.before.Sysctls {
		cur, err := os.ReadFile(filepath.Join("/proc/sys", k))
		if err == nil && strings.TrimSpace(string(cur)) == v {
			continue
		}
		if err := os.WriteFile(filepath.Join("/proc/sys", k), []byte(v+"\n"), 0o644); err != nil {
			note(fmt.Errorf("realnode: restoring %s: %w", k, err))
		}
	}
	for _, p := range removablePaths {
		if existed, known := n.before.Paths[p]; known && !existed {
			if err := os.RemoveAll(p); err != nil {
				note(fmt.Errorf("realnode: removing %s: %w", p, err))
			}
		}
	}
	return errs
}
