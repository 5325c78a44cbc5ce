// Package names is the one place lifeboat spells the names OpenShift
// gives its control plane: namespaces, labels, resource names and the
// paths on a master, and the operator conditions the runbook reads.
// Packages take them from here (their documented defaults, such as the
// manifest directory of restore.Options, are these constants), so that no
// two packages spell one name.
package names

// Namespaces (OpenShift 4).
const (
	EtcdNamespace                  = "openshift-etcd"
	EtcdOperatorNamespace          = "openshift-etcd-operator"
	KubeAPIServerNamespace         = "openshift-kube-apiserver"
	KubeAPIServerOperatorNamespace = "openshift-kube-apiserver-operator"
	MachineAPINamespace            = "openshift-machine-api"
	ConfigNamespace                = "openshift-config"
	ConfigManagedNamespace         = "openshift-config-managed"
)

// Node role labels of a master: 4.5 sets MasterLabel; later releases set
// ControlPlaneLabel beside it.
const (
	MasterLabel       = "node-role.kubernetes.io/master"
	ControlPlaneLabel = "node-role.kubernetes.io/control-plane"
)

// Cluster-scoped singletons: the Etcd operator resource and the
// ControlPlaneMachineSet are named "cluster", the ClusterVersion "version".
const (
	ClusterResource    = "cluster"
	ClusterVersionName = "version"
)

// Paths on a master.
const (
	ManifestDir           = "/etc/kubernetes/manifests"
	StaticPodResourcesDir = "/etc/kubernetes/static-pod-resources"
	EtcdDataDir           = "/var/lib/etcd"
	EtcdBackupDir         = "/var/lib/etcd-backup"
)

// Operator condition types and reasons the runbook reads: the static pod
// operators' NodeInstallerProgressing (reason AllNodesAtLatestRevision
// once every node runs the latest revision) and the etcd operator's
// EtcdMembersAvailable.
const (
	NodeInstallerProgressing = "NodeInstallerProgressing"
	AllNodesAtLatestRevision = "AllNodesAtLatestRevision"
	EtcdMembersAvailable     = "EtcdMembersAvailable"
)
