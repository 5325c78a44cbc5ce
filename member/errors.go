package member

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Test them with errors.Is.
var (
	// ErrQuorumLost: fewer than a quorum of voting members is healthy.
	// Replacing a member cannot help; restore from a backup (restore.Plan,
	// runbook 5.3 "Restoring to a previous cluster state").
	ErrQuorumLost = errors.New("etcd quorum lost")
	// ErrWouldLoseQuorum: removing the member would leave fewer healthy
	// members than a quorum of the remaining cluster.
	ErrWouldLoseQuorum = errors.New("removal would lose etcd quorum")
	// ErrMemberHealthy: the member to remove answers its health check.
	ErrMemberHealthy = errors.New("member is healthy")
	// ErrMemberNotFound: no member has the given name.
	ErrMemberNotFound = errors.New("etcd member not found")
	// ErrNoUnhealthyMember: every member is healthy and the operator agrees.
	ErrNoUnhealthyMember = errors.New("no unhealthy etcd member")
	// ErrNoMachine: the node has no Machine (the cluster was not installed
	// with the Machine API); see *NoMachineError.
	ErrNoMachine = errors.New("no Machine for the node")
)

// QuorumLostError reports that quorum is already lost. It matches
// ErrQuorumLost.
type QuorumLostError struct {
	Healthy   int      // healthy voting members
	Voting    int      // voting members
	Unhealthy []string // names (or peer hosts) of the unhealthy members
	Source    string   // what showed it: "member health checks", "EtcdMembersAvailable"
}

func (e *QuorumLostError) Error() string {
	return fmt.Sprintf("etcd quorum lost: %d of %d voting members are healthy (unhealthy: %s; from %s): "+
		"replacing a single member cannot recover the cluster; restore it from an etcd backup instead "+
		"(restore.Plan, runbook 5.3 \"Restoring to a previous cluster state\")",
		e.Healthy, e.Voting, strings.Join(e.Unhealthy, ", "), e.Source)
}

// Is makes errors.Is(err, ErrQuorumLost) true.
func (e *QuorumLostError) Is(target error) bool { return target == ErrQuorumLost }

// NoMachineError says that no Machine in openshift-machine-api points to
// the node: the masters were not created with the Machine API (user-
// provisioned infrastructure). It matches ErrNoMachine.
type NoMachineError struct {
	Node      string
	Namespace string
}

func (e *NoMachineError) Error() string {
	return fmt.Sprintf("no Machine in namespace %s has status.nodeRef.name %s: this master was not created by the Machine API; "+
		"create the new master the same way the original one was created (runbook 2.4.1 step 3), "+
		"then let the etcd cluster Operator add it as a member", e.Namespace, e.Node)
}

// Is makes errors.Is(err, ErrNoMachine) true.
func (e *NoMachineError) Is(target error) bool { return target == ErrNoMachine }
