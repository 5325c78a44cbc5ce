// Package realnode runs one real Kubernetes node -- containerd, runc and a
// kubelet -- registered with the real kube-apiserver of a [clustertest]
// cluster, for the tests of the paths every real recovery depends on and
// the simulated kubelets of clustertest cannot prove: the debug-pod host
// (debugpod.Host: "oc debug node/<n>" plus "chroot /host", exec through the
// API server and the kubelet) and the restore static pod (a manifest the
// kubelet starts from its manifest directory and stops when it is moved
// away, seen through crictl as a host sees it).
//
// # What it needs
//
// Root, Linux, Debian's containerd (1.6), runc and containernetworking-
// plugins (the loopback plugin), busybox-static (the shell of the images),
// the Go toolchain (it builds the pause binary), and kubelet and crictl from
// "hack/tools.sh realnode" (or LIFEBOAT_KUBELET / LIFEBOAT_CRICTL). Where
// one is missing, [New] fails with an error wrapping [ErrUnavailable] that
// names it, and [Start] skips the test with that reason -- unless
// LIFEBOAT_REQUIRE_REALNODE=1, which turns the skip into a failure (CI sets
// it once it has installed the packages).
//
// # What it does to the machine, and how it is undone
//
// No image comes from a registry: [New] writes OCI image archives (a static
// Go pause binary; a busybox image from busybox-static; an etcd image with
// clustertest's etcd, etcdctl and etcdutl) and imports them with
// "ctr -n k8s.io images import". Everything containerd and the kubelet keep
// lives under one temporary directory ([Node.Root]): containerd's root,
// state, socket and runc root; the kubelet's root dir, certificates, pod
// logs and static pod directory ([Node.ManifestDir]); the CNI config (a
// loopback-only network: the pods the runbook needs are host-network).
//
// Containerd and the kubelet run in the machine's own mount namespace.
// Running them in a private one (unshare, with temporary directories bound
// over /var/lib/kubelet, /etc/kubernetes, ...) was considered and not done:
// the debug pod's "chroot /host" would then see that namespace's root, not
// the machine's, and every mount a container makes would have to be
// reasoned about in two namespaces. Instead, paths are data: the tests give
// lifeboat's procedures paths under [Node.Root] (the manifest directory,
// etcd's data and backup directories), so the hostPath volumes of the
// manifests they write land there. A debug pod's "chroot /host" reaches the
// machine's real root, as on a master; the tests only touch paths under
// [Node.Root] through it and never call Shutdown or RestartKubelet (there is
// no systemd).
//
// What the node changes outside [Node.Root] is recorded before it starts
// and undone by [Node.Close]: the node IP (10.254.254.1/32 by default) added
// to "lo" (the kubelet refuses 127.0.0.1), the kernel settings the kubelet
// sets (kernel.panic, kernel.panic_on_oops, vm.overcommit_memory,
// vm.panic_on_oom, kernel.keys.root_maxkeys, kernel.keys.root_maxbytes),
// its cgroups (under a cgroup root of its own), containerd's shim socket
// directory /run/containerd, the kubelet's /var/log/containers and
// /var/lib/kubelet (its device plugin socket ignores --root-dir), every
// mount under [Node.Root] (the kubelet bind-mounts its root dir; sandboxes
// mount shm; containerd mounts each rootfs), and every process
// (containerd, its shims, the containers, the kubelet). The Node object is
// deleted from the API. Close compares the machine with the record of
// these facts New took and fails with [ErrNotRestored]
// when it differs, so every test of the tier asserts the machine is as it
// was.
//
// The record of what a node changed is kept in the cache directory
// (realnode.json) from before its first change until Close succeeds. When
// the process running a node dies without Close (a test binary's timeout
// panics, SIGKILL), containerd and the kubelet die with it (Pdeathsig) but
// shims, containers, mounts, cgroups, the lo address and the kernel
// settings stay: the next New undoes them from the record first.
//
// One real node runs at a time on a machine: [New] holds an exclusive lock
// (a file in the lifeboat cache directory) from before it records the
// machine's state until Close has restored it, so test packages running in
// parallel wait for each other instead of sharing the lo address, the
// kernel settings and the kubelet's ports.
//
// # Facts of this machine kind the configuration encodes
//
//   - cgroup v1: the kubelet needs failCgroupV1: false.
//   - A VM that cannot lower oom_score_adj: containerd's CRI runs with
//     restrict_oom_score_adj = true and the kubelet with oomScoreAdj: 0,
//     else every sandbox fails with runc's "can't get final child's PID
//     from pipe".
//   - The API server reaches the kubelet at the node's InternalIP with a
//     client certificate of the cluster's PKI (clustertest passes
//     --kubelet-preferred-address-types=InternalIP,Hostname and
//     --kubelet-client-certificate/-key); the kubelet authenticates client
//     certificates of that PKI and authorizes every request (AlwaysAllow):
//     the node exists for tests, behind loopback.
package realnode
