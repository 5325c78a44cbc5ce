// Package host gives lifeboat root access to one control-plane host, the
// way the runbook reaches a master: "oc debug node/<name>" followed by
// "chroot /host", or "ssh core@<node>" followed by "sudo".
//
// Procedures call only the typed operations of [Host] (move a path, make a
// directory, read and write a file, list running containers, restart the
// kubelet, shut down), so one procedure runs unchanged on every
// implementation:
//
//   - [Local]: the machine lifeboat runs on, or a directory tree standing in
//     for a host (what clustertest uses);
//   - [SSH]: a remote master over SSH with key authentication, host-key
//     checking and sudo, as "ssh core@<node> sudo ..." does;
//   - [DebugPod]: a privileged pod on the node with the host filesystem at
//     /host, commands run through "chroot /host" by exec through the API,
//     as "oc debug node/<name>" does.
//
// Runbook steps covered: 1.1 steps 1-2 (reaching a master), 2.4.2 step 1
// (moving the etcd manifest and data directory aside), 3.2 step 1 (shutdown
// -h 1), 5.3.1 steps 4, 7 and 8 (moving static pod manifests, crictl ps,
// restarting the kubelet).
//
// Errors: a missing path wraps fs.ErrNotExist; a move onto an existing path
// wraps fs.ErrExist; a command that exits non-zero is an *ExitError.
package host
