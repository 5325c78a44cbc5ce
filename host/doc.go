// Package host gives lifeboat root access to one control-plane host, the
// way the runbook reaches a master: "oc debug node/<name>" followed by
// "chroot /host", or "ssh core@<node>" followed by "sudo".
//
// Procedures call only the typed operations of [Host] (move a path, make a
// directory, read and write a file, list running containers, restart the
// kubelet, shut down), so one procedure runs unchanged on every
// implementation:
//
//   - [Local]: the machine lifeboat runs on (root "/"), or a directory tree
//     standing in for a host (what clustertest uses, with its simulated
//     kubelet plugged in as the [Runtime]). Paths are mapped beneath the
//     root and cannot leave it, by ".." or by a symlink. On a real master
//     lifeboat must run as root: Local does not escalate privileges.
//   - [SSH]: a remote master over SSH with key authentication, host-key
//     checking ([KnownHosts]) and "sudo -n", as "ssh core@<node> sudo ..."
//     does. One connection, one session per command.
//   - debugpod.Host (package host/debugpod, which needs client-go): a
//     privileged pod on the node with the host filesystem at /host,
//     commands run as "chroot /host sh -c ..." through the exec
//     subresource, as "oc debug node/<name>" does.
//   - [NewShell]: any other way to run a shell line as root (a
//     [LineRunner]); SSH and debugpod.Host are built on it.
//
// SSH and the debug-pod host carry every typed operation out as the runbook's own
// shell commands, built once for both: "cat" (ReadFile, Open, streamed),
// "cat > tmp && sync && mv tmp path" (WriteFile), "mkdir -p", "mv -n" guarded
// by "test -e" on both paths (Move), "stat -c" and "readlink" (Stat,
// ReadDir), "crictl ps --name <name> -o json", "systemctl restart
// kubelet.service", "shutdown -h +<minutes>". Arguments are single-quoted,
// so any path is safe.
//
// Runbook steps covered: 1.1 steps 1-2 (reaching a master), 2.4.2 step 1
// (moving the etcd manifest and data directory aside), 3.2 step 1
// (shutdown -h 1), 5.3.1 steps 4, 7, 8 and 9 (moving static pod manifests
// and the data directory, crictl ps, restarting the kubelet).
//
// # Errors
//
// Errors name the host and the path, and wrap:
//
//   - fs.ErrNotExist for a missing path (for Move: neither source nor
//     destination, or a missing destination parent);
//   - fs.ErrExist when Move finds both source and destination (a move
//     already done, source gone and destination present, returns nil);
//   - [ErrInvalidPath] for a path that is not absolute or contains "..";
//   - *[ExitError] for a command that exited non-zero (Run, and the
//     commands behind Containers, RestartKubelet, Shutdown);
//   - *[HostKeyError] from [NewSSH] when the server's host key is unknown
//     or differs from known_hosts;
//   - ctx.Err() when the context ends.
//
// # Testing
//
// Local is tested on directory trees and on the real filesystem; the shell
// commands of the remote hosts are tested by running them with the local
// sh, and SSH against a real sshd (Debian's openssh-server) that the test
// starts on a loopback port with generated keys. The debug-pod host
// (tested here, in host_test, because it runs the shared suite) is tested for
// the pod it creates against a real kube-apiserver (clustertest). No
// kubelet runs that pod there (clustertest's kubelets only run static
// pods), so the test marks it Running itself and exec is not exercised
// against the real API server; the exec path is tested instead against a
// test server speaking the API server's SPDY remote command protocol,
// which runs every typed operation; the real-node tier
// (clustertest/realnode) runs the shared suite through a real kubelet.
//
// Embedders testing their own code against [Host] use package
// host/hosttest: a directory-backed master with a simulated kubelet
// (hosttest.NewDir) and a struct-of-functions wrapper (hosttest.Wrap)
// whose nil fields delegate to a real host.
//
// # Limitations
//
// Cancelling ctx stops a Local command at once (its process group is
// killed). SSH and exec streams carry no signals (sshd refuses signal
// requests for root logins), so for SSH and the debug-pod host every shell
// line runs in a wrapper that leads its own process group, writes the
// group's id to /tmp/<marker>.pid and only then checks for the tombstone
// /tmp/<marker>.cancelled; a cancel runs a second, short command that
// writes the tombstone first and then stops the group named in the pid
// file (SIGTERM, SIGKILL after 2 seconds). With that order a command whose
// exec starts late is stopped too: either the wrapper sees the tombstone
// and never runs the line, or the stopper sees the group. A descendant
// that leaves the group (setsid) may run on; the host needs a writable
// /tmp. A stream that ends without the wrapper's completion record (code
// 0 and no output included) is an *[IncompleteError], never success; the
// host does not retry it, since a command need not be idempotent.
// Modification times read over SSH or a debug pod have a resolution of
// one second.
package host
