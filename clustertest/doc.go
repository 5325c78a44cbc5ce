// Package clustertest is a simulated OpenShift 4 control plane for tests:
// lifeboat's own, and those of anyone who wants to prove recovery tooling
// against real parts on one machine.
//
// [Start] (or [New]) brings up, in a few seconds:
//
//   - real etcd members (one per master, TLS with client certificates on
//     client and peer URLs, loopback ports chosen at run time), each run by
//     the simulated kubelet of its host from that host's etcd-pod.yaml;
//   - one real kube-apiserver over them (client certificates of the
//     cluster's [PKI], Node and RBAC authorization, an admin kubeconfig),
//     standing for the three API servers behind the internal load balancer;
//   - the OpenShift CRDs the runbook touches (Etcd, KubeAPIServer,
//     KubeControllerManager, KubeScheduler, ClusterOperator, ClusterVersion,
//     Proxy, APIServer, Infrastructure, Network, Machine), read at run time from the
//     github.com/openshift/api module's zz_generated.crd-manifests in the Go
//     module cache ([openShiftAPIDir]);
//   - a seeded installation: masters and workers as Nodes (roles, Ready,
//     addresses) and Machines (providerStatus.instanceState, nodeRef,
//     providerID, phase Running), the cluster Etcd, KubeAPIServer,
//     KubeControllerManager and KubeScheduler objects with
//     latestAvailableRevision, nodeStatuses and conditions
//     (NodeInstallerProgressing "3 nodes are at revision N",
//     EtcdMembersAvailable), ClusterOperators, a ClusterVersion with its
//     install history (Options.Release, 4.5.2 by default: the release's
//     version Completed, and its etcd pod containers and 4.18+ scripts on
//     each master), the Proxy and APIServer, the etcd pods and the
//     etcd-peer-, etcd-serving-, etcd-serving-metrics-<node> secrets;
//   - small controllers playing the operators, the machine API, the node
//     lifecycle controller and the CSR signer (per release: from 4.14 the
//     etcd quorum guard, which holds new etcd revisions while fewer voters
//     are healthy than there are masters unless
//     unsupportedConfigOverrides.useUnsupportedUnsafeNonHANonProductionUnstableEtcd
//     is set, shown as RevisionControllerDegraded; from 4.18 the etcd-rev
//     container keeping /var/lib/etcd/revision.json on every master, and a
//     new etcd revision when a master has no member), and fault injectors
//     (StopMachine, CrashloopEtcd, KillEtcd, LoseHost,
//     ExpireNodeCertificates).
//
// # Hosts
//
// Every node is a [Host]: a directory tree (Dir/hosts/<node>) with the
// layout of a master, reached through the [host.Host] operations a
// procedure uses on a real master (read, write, move, mkdir, crictl ps,
// systemctl restart kubelet, shutdown):
//
//	/etc/kubernetes/manifests/{etcd,kube-apiserver,kube-controller-manager,kube-scheduler}-pod.yaml
//	/etc/kubernetes/static-pod-resources/<component>-pod-<revision>/...
//	/etc/kubernetes/static-pod-resources/etcd-certs/...
//	/var/lib/etcd/member
//
// The simulated kubelet of a master runs its etcd member while etcd-pod.yaml
// is in the manifest directory (the manifest's etcd command line, with its
// paths mapped into the tree), stops it when the file is moved away,
// restarts it when the file changes, restarts a crashed member with a
// back-off, and keeps the pod etcd-<node> in openshift-etcd true (Running,
// Error, CrashLoopBackOff). The kube-apiserver process runs while at least
// one powered-on master has kube-apiserver-pod.yaml, and starts afresh when
// one comes back after all were gone, as the runbook's restore expects.
// Moving manifests and data directories around with the runbook's commands
// therefore has the runbook's effects.
//
// # Operators and faults
//
// The controllers play what the cluster does on its own: a new
// spec.forceRedeploymentReason on an operator object makes a new revision
// that the nodes reach one at a time (NodeInstallerProgressing in the
// installer's words, "2 nodes are at revision 6; 1 nodes are at revision
// 7"); the etcd operator adds a member for a master that has none before it
// restarts the others (as a learner, promoted once caught up, with the
// events MemberAddAsLearner and MemberPromote), and writes
// EtcdMembersAvailable from the members' real health ("2 of 3 members are available, <node> is unhealthy"); a new
// Machine goes Provisioning to Running with a new host, Node and nodeRef,
// and a deleted one takes its Node and host along (its etcd member stays
// listed until someone removes it); a powered-off machine's Node turns
// NotReady with the node.kubernetes.io/unreachable taints; a node whose
// certificates expired files a real node-bootstrapper CSR, and once it is
// approved the signer issues it and the node files its kubelet-serving CSR.
//
// The faults are methods of [Cluster]: [Cluster.StopMachine] and
// [Cluster.StartMachine] (power and providerStatus.instanceState),
// [Cluster.CrashloopEtcd] (the member really exits, again and again, until
// its manifest changes), [Cluster.KillEtcd] (SIGKILL, not restarted until
// the kubelet restarts), [Cluster.LoseHost] (the machine stops and its
// disk is wiped: the one place the simulator deletes data) and
// [Cluster.ExpireNodeCertificates]. Deleting objects is done with the
// clients. StartMachine writes through the API, so after a whole-cluster
// shutdown power the hosts on first ([Host.PowerOn]) and record the
// machines as started once etcd has quorum again.
//
// # Time
//
// The simulation ticks every [Options].Interval (100ms by default). Waits
// the runbook measures in minutes are scaled to ticks: "shutdown -h 1"
// powers a host off after ten ticks; a crashing member is restarted after
// 10, 20, ... up to 100 ticks.
//
// # What is not real
//
// No container runs: only the etcd container of each etcd pod is a
// process, the other containers are listed as running while their manifest
// is present. Node addresses (10.0.x.y) are names, not reachable
// addresses; every process listens on 127.0.0.1. etcd runs with
// --unsafe-no-fsync (a host's page cache survives everything the
// simulation does to a process). Kubernetes objects are stored under
// /kubernetes.io in etcd, as on OpenShift. The ServiceAccount and
// TaintNodesByCondition admission plugins are off (they wait for
// controllers that do not run here).
//
// # Prerequisites
//
// The etcd and kube-apiserver binaries are found by version in a cache
// outside any repository (${LIFEBOAT_CACHE_DIR:-~/.cache/lifeboat}/bin;
// [FindBinaries]; LIFEBOAT_ETCD, LIFEBOAT_KUBE_APISERVER and the others
// override them). [EnsureBinaries] builds the missing ones from tools modules
// pinned inside lifeboat, from any module: an embedder calls it once, e.g.
// in TestMain, with the go command on PATH and the module proxy reachable
// (kube-apiserver takes several minutes on 2 cores, once). In lifeboat's
// repository hack/tools.sh does the same. The github.com/openshift/api
// module must be in the module cache (a module that imports clustertest
// has it; LIFEBOAT_OPENSHIFT_API_DIR overrides it). A cluster keeps all its
// state in its *Cluster: clusters run side by side, in one test process or
// several, each on loopback ports it reserves for its lifetime.
//
// # Errors
//
// [ErrBinariesMissing] and [ErrCRDsMissing] say a prerequisite is missing;
// [ErrHostDown] is what any operation on a powered-off host returns;
// [ErrNoHost] is what a fault injector returns for an unknown node.
package clustertest
