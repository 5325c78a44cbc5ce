package host

import (
	"context"
	"io"
	"io/fs"
	"time"
)

// Host is root access to one control-plane host, reduced to the operations
// the runbook performs there. Paths are absolute paths on the host
// ("/etc/kubernetes/manifests/etcd-pod.yaml"); implementations map them to
// wherever the host really is (the local root, a remote machine, a directory
// tree in tests).
//
// Every method honours ctx: when it is cancelled the operation stops and the
// method returns an error wrapping ctx.Err(). Errors for missing paths wrap
// fs.ErrNotExist so callers can test them with errors.Is.
type Host interface {
	// Name is the node name of the host, as the cluster knows it.
	Name() string

	// ReadFile returns the whole content of path.
	ReadFile(ctx context.Context, path string) ([]byte, error)
	// Open streams the content of path. The caller closes it.
	Open(ctx context.Context, path string) (io.ReadCloser, error)
	// WriteFile writes r to path with perm, atomically: a temporary file
	// beside path is written, synced and renamed over it.
	WriteFile(ctx context.Context, path string, r io.Reader, perm fs.FileMode) error
	// Stat describes path without following a final symlink.
	Stat(ctx context.Context, path string) (FileInfo, error)
	// ReadDir lists the entries of a directory, sorted by name.
	ReadDir(ctx context.Context, path string) ([]FileInfo, error)
	// MkdirAll creates path and its parents (mkdir -p).
	MkdirAll(ctx context.Context, path string, perm fs.FileMode) error
	// Move renames src to dst, where dst is the full new path (not a
	// directory to move into). It never overwrites: if dst exists and src
	// does not, the move already happened and Move returns nil; if both
	// exist it returns an error wrapping fs.ErrExist.
	Move(ctx context.Context, src, dst string) error

	// Containers lists the running containers whose name contains name,
	// what "crictl ps --name <name>" shows. An empty name lists all.
	Containers(ctx context.Context, name string) ([]Container, error)
	// RestartKubelet restarts the kubelet service
	// ("systemctl restart kubelet.service").
	RestartKubelet(ctx context.Context) error
	// Shutdown halts the host after delay ("shutdown -h 1" for one minute).
	Shutdown(ctx context.Context, delay time.Duration) error

	// Run runs argv as root with stdin (may be nil) and returns its standard
	// output. A non-zero exit is an *ExitError carrying the standard error.
	Run(ctx context.Context, stdin io.Reader, argv ...string) ([]byte, error)

	// LocalPath returns where path lives on the machine running this
	// process, when the host's filesystem is local to it (the local host,
	// clustertest hosts). Remote hosts return "", false.
	LocalPath(path string) (string, bool)
}

// FileInfo describes one file on a host.
type FileInfo struct {
	Name    string // base name
	Size    int64
	Mode    fs.FileMode // includes the type bits (fs.ModeDir, fs.ModeSymlink, ...)
	ModTime time.Time
	// LinkTarget is the target of a symlink, empty otherwise.
	LinkTarget string
}

// IsDir reports whether the file is a directory.
func (fi FileInfo) IsDir() bool { return fi.Mode.IsDir() }

// Container is one running container, as "crictl ps" lists it.
type Container struct {
	ID    string
	Name  string // container name, e.g. "etcd", "kube-apiserver"
	Pod   string // pod name, e.g. "etcd-master-0"
	State string // "Running", "Exited", ...
}
