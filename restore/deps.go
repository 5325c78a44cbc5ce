package restore

import (
	configclient "github.com/openshift/client-go/config/clientset/versioned"
	machineclient "github.com/openshift/client-go/machine/clientset/versioned"
	operatorclient "github.com/openshift/client-go/operator/clientset/versioned"
	"k8s.io/client-go/kubernetes"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/internal/opterr"
)

// Deps are what Plan, Run, QuorumRestorePlan and RunQuorumRestore act
// through: the hosts and the API clients. The plans keep them and do no
// I/O until they run. Both procedures take the same Deps; the quorum
// restore uses no backup, so it never restores a snapshot (InProcess is
// unused) and replaces no Machine (Machine is unused).
type Deps struct {
	// Recovery is the control-plane host the backup is restored on (5.3
	// step 2, "the recovery control plane host"), or, for the quorum
	// restore, the host whose etcd member's data directory survived.
	// Required.
	Recovery host.Host
	// Others are the other masters that are still there (5.3 step 4:
	// their etcd and kube-apiserver are stopped, their data directories
	// moved aside; the quorum restore only stops their etcd). Lost masters
	// (section 5.2) are simply left out: zero others is valid. No entry
	// may be nil, and no host name may appear twice (Recovery included).
	Others []host.Host

	// Kube reaches the API through its load balancer: the etcd pods, the
	// nodes, the CSRs (5.3 steps 9 and 13, 5.4). Required.
	Kube kubernetes.Interface
	// Operator reads and patches the static pod operators: the forced
	// redeployments and their rollouts (5.3 steps 10-12), the etcd quorum
	// guard. Required.
	Operator operatorclient.Interface
	// Machine deletes and re-creates the Machines of
	// Options.LostMasters (5.2), and lets approve-csrs check
	// node-bootstrapper CSRs against Machines (5.4). Required when
	// Options.LostMasters is not empty; nil: CSRs are checked against
	// the nodes only. Unused by the quorum restore.
	Machine machineclient.Interface
	// Config reads ClusterVersion "version", the first evidence of the
	// cluster's procedure generation (release.Detect), and the
	// ClusterOperators the etcd-only restore (4.18+) waits on. nil: the
	// recovery host alone decides the generation, and an etcd-only plan
	// is refused. Required by the quorum restore. During a restore the API
	// is usually down: the read is bounded by Options.Release.APITimeout,
	// and the host decides then.
	Config configclient.Interface

	// InProcess writes the data directory in this process (5.3 step 7,
	// the restore-snapshot step) when Decide says InProcess and the
	// recovery host's files are local: inprocess.WriteDataDir (package
	// restore/inprocess, etcd's etcdutl library). nil: every restore goes
	// through the restore pod, as with Options.ForceRestorePod (restore
	// does not build the etcd server itself). Unused by the quorum
	// restore.
	InProcess DataDirWriter
}

// check refuses deps that cannot carry out o (Validate has passed): a
// missing host or client, a host given twice, LostMasters without Machine
// or naming a host that is given. Each refusal is a *lifeboat.OptionsError
// naming "restore.Deps.<Field>" (or the option at fault).
func (d Deps) check(o Options) error {
	switch {
	case d.Recovery == nil:
		return opterr.Nil("restore.Deps.Recovery")
	case d.Kube == nil:
		return opterr.Nil("restore.Deps.Kube")
	case d.Operator == nil:
		return opterr.Nil("restore.Deps.Operator")
	case len(o.LostMasters) > 0 && d.Machine == nil:
		return opterr.New("restore.Deps.Machine", "is required when restore.Options.LostMasters are given")
	}
	seen := map[string]bool{d.Recovery.Name(): true}
	for i, h := range d.Others {
		if h == nil {
			return opterr.New("restore.Deps.Others", "[%d] is nil", i)
		}
		if seen[h.Name()] {
			return opterr.New("restore.Deps.Others", "host %s is given twice (or is the Recovery host)", h.Name())
		}
		seen[h.Name()] = true
	}
	for _, n := range o.LostMasters {
		if seen[n] {
			return opterr.New(o.opt("LostMasters"), "%s is also given as a host (restore.Deps.Recovery or restore.Deps.Others)", n)
		}
	}
	return nil
}
