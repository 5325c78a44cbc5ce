// Package debugpod reaches a master the way the runbook's "oc debug
// node/<name>" and "chroot /host" do: [New] creates a privileged pod on the
// node through the API server and returns a [Host] (a host.Host) whose
// typed operations run as the runbook's shell commands through the pod's
// exec subresource.
//
// It is a package of its own because it needs client-go; package host
// (host.Local, host.SSH) does not.
//
// Errors: [ErrNotRunning] when the pod does not reach Running (it is
// deleted again); the typed operations return host's errors (fs.ErrNotExist
// and friends inside *fs.PathError, *host.ExitError, host.ErrInvalidPath).
package debugpod
