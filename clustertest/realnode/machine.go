package realnode

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// kernelSettings are the sysctls the kubelet sets at start
// (setupKernelTunables, unless protectKernelDefaults), as /proc/sys paths.
var kernelSettings = []string{
	"kernel/panic", "kernel/panic_on_oops", "vm/overcommit_memory", "vm/panic_on_oom",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes",
}

// removablePaths are the paths outside Node.Root that containerd or the
// kubelet create whatever they are configured with: containerd's shim
// sockets (/run/containerd/s), the kubelet's container log links
// (/var/log/containers) and its device plugin socket
// (/var/lib/kubelet/device-plugins/kubelet.sock, not under --root-dir).
// Close removes those that did not exist before. watchedPaths are only
// watched: nothing may create them.
var (
	removablePaths = []string{"/run/containerd", "/var/log/containers", "/var/lib/kubelet"}
	watchedPaths   = []string{"/var/lib/containerd", "/opt/containerd", "/etc/kubernetes",
		"/var/lib/etcd", "/var/lib/cni", "/etc/cni", "/var/log/pods", "/etc/containerd", "/var/run/netns"}
)

// cgroupPrefix begins the name of the node's own cgroup root; the kubelet's
// kubepods tree goes below it.
const cgroupPrefix = "lifeboat-realnode"

// machineState is what a node could change on the machine outside its
// root directory. snapshot reads it; Diff compares two.
type machineState struct {
	// Sysctls by /proc/sys path.
	Sysctls map[string]string
	// LoAddrs are the addresses on "lo" (CIDR notation).
	LoAddrs []string
	// Mounts are mount points of containerd, the kubelet or a node root.
	Mounts []string
	// Cgroups are the cgroup directories of a node (any controller).
	Cgroups []string
	// Processes are running (not zombie) containerd, kubelet, shim and
	// pause processes ("pid name").
	Processes []string
	// Paths are which of the watched host paths exist.
	Paths map[string]bool
}

// snapshot reads the machine's state as far as a node could change it.
func snapshot() (machineState, error) {
	s := machineState{Sysctls: map[string]string{}, Paths: map[string]bool{}}
	for _, k := range kernelSettings {
		b, err := os.ReadFile(filepath.Join("/proc/sys", k))
		if err != nil {
			return s, fmt.Errorf("realnode: reading %s: %w", k, err)
		}
		s.Sysctls[k] = strings.TrimSpace(string(b))
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		return s, fmt.Errorf("realnode: lo: %w", err)
	}
	addrs, err := lo.Addrs()
	if err != nil {
		return s, fmt.Errorf("realnode: lo addresses: %w", err)
	}
	for _, a := range addrs {
		s.LoAddrs = append(s.LoAddrs, a.String())
	}
	sort.Strings(s.LoAddrs)
	if s.Mounts, err = nodeMounts(""); err != nil {
		return s, err
	}
	s.Cgroups = nodeCgroups()
	s.Processes = nodeProcesses()
	for _, p := range append(slices.Clone(removablePaths), watchedPaths...) {
		_, err := os.Lstat(p)
		s.Paths[p] = err == nil
	}
	return s, nil
}

// Diff lists how after differs from s, one line per difference (empty
// when the machine is as it was).
func (s machineState) Diff(after machineState) []string {
	var d []string
	for _, k := range kernelSettings {
		if s.Sysctls[k] != after.Sysctls[k] {
			d = append(d, fmt.Sprintf("sysctl %s: %q, was %q", k, after.Sysctls[k], s.Sysctls[k]))
		}
	}
	list := func(what string, before, now []string) {
		for _, x := range now {
			if !slices.Contains(before, x) {
				d = append(d, fmt.Sprintf("%s %s: left behind", what, x))
			}
		}
		for _, x := range before {
			if !slices.Contains(now, x) {
				d = append(d, fmt.Sprintf("%s %s: gone", what, x))
			}
		}
	}
	list("lo address", s.LoAddrs, after.LoAddrs)
	list("mount", s.Mounts, after.Mounts)
	list("cgroup", s.Cgroups, after.Cgroups)
	list("process", s.Processes, after.Processes)
	for p, was := range s.Paths {
		if after.Paths[p] != was {
			d = append(d, fmt.Sprintf("path %s: exists %v, was %v", p, after.Paths[p], was))
		}
	}
	sort.Strings(d)
	return d
}

// nodeMounts lists the mount points under root ("" : those of any node
// and of containerd and the kubelet's default places), deepest first.
func nodeMounts(root string) ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("realnode: reading mountinfo: %w", err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMount(f[4])
		match := false
		if root != "" {
			match = mp == root || strings.HasPrefix(mp, root+"/")
		} else {
			match = strings.Contains(mp, "/"+rootPrefix) || strings.HasPrefix(mp, "/run/containerd") ||
				strings.HasPrefix(mp, "/var/lib/kubelet") || strings.HasPrefix(mp, "/var/lib/containerd")
		}
		if match {
			out = append(out, mp)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(out)))
	return out, nil
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%3o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cgroupBases are the hierarchies to look in: every v1 controller
// directory, or the v2 root.
func cgroupBases() []string {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return []string{"/sys/fs/cgroup"}
	}
	ents, err := os.ReadDir("/sys/fs/cgroup")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		p := filepath.Join("/sys/fs/cgroup", e.Name())
		if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
			out = append(out, p)
		}
	}
	return out
}

// nodeCgroups lists the top-level cgroups a node creates: its own root
// and the kubelet's defaults (kubepods*), in every hierarchy.
func nodeCgroups() []string {
	var out []string
	for _, base := range cgroupBases() {
		ents, _ := os.ReadDir(base)
		for _, e := range ents {
			n := e.Name()
			if e.IsDir() && (strings.HasPrefix(n, cgroupPrefix) || strings.HasPrefix(n, "kubepods")) {
				out = append(out, filepath.Join(base, n))
			}
		}
	}
	sort.Strings(out)
	return out
}

// processNames are the programs of a node.
var processNames = []string{"containerd", "containerd-shim", "containerd-shim-runc-v2", "kubelet", "pause"}

// nodeProcesses lists running processes of a node by their command name.
func nodeProcesses() []string {
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err != nil {
			continue
		}
		comm := strings.TrimSpace(string(b))
		if slices.Contains(processNames, comm) && !zombie(e.Name()) {
			out = append(out, e.Name()+" "+comm)
		}
	}
	sort.Strings(out)
	return out
}

// zombie reports whether the process has exited and waits to be reaped
// (by whoever adopted it: a shim's parent is init).
func zombie(pid string) bool {
	b, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return true // gone
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z' || s[i+2] == 'X'
}

// createCgroupRoot makes the node's cgroup root in every hierarchy (the
// kubelet requires its cgroupRoot to exist). A v1 cpuset child starts
// empty: it gets its parent's cpus and mems.
func createCgroupRoot(name string) ([]string, error) {
	var made []string
	for _, base := range cgroupBases() {
		p := filepath.Join(base, name)
		if err := os.Mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return made, fmt.Errorf("realnode: creating cgroup %s: %w", p, err)
		}
		made = append(made, p)
		if filepath.Base(base) == "cpuset" {
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				v, err := os.ReadFile(filepath.Join(base, f))
				if err != nil {
					return made, fmt.Errorf("realnode: cgroup %s: %w", f, err)
				}
				if err := os.WriteFile(filepath.Join(p, f), v, 0o644); err != nil {
					return made, fmt.Errorf("realnode: cgroup %s: %w", f, err)
				}
			}
		}
	}
	return made, nil
}

// cgroupPids lists the processes in the cgroup tree at dir.
func cgroupPids(dir string) []int {
	var pids []int
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		if err != nil {
			return nil
		}
		for _, f := range strings.Fields(string(b)) {
			var pid int
			if _, err := fmt.Sscan(f, &pid); err == nil {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	return pids
}

// removeCgroupTree removes the cgroup directories at dir, deepest first
// (a cgroup directory is removed with rmdir, its files with it).
func removeCgroupTree(dir string) error {
	var dirs []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	var errs []error
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Remove(dirs[i]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
