package member_test

import (
	"fmt"

	operatorfake "github.com/openshift/client-go/operator/clientset/versioned/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/lifeboat-dev/lifeboat/member"
	"github.com/lifeboat-dev/lifeboat/release"
)

// ReplacePlan builds the chapter 2 procedure for the state
// FindUnhealthyMember found, without any I/O: Deps.Etcd, Kube and
// Operator are required. Describe lists it; Run(ctx, plan.RunOptions{})
// runs it. Its "release" step chooses between the 4.5 runbook's steps and
// the current ones when it runs (the quorum-guard and delete-node steps
// are skipped before 4.11); member.ChooseProcedure names that choice
// without running anything. Its first steps (identify, check-quorum,
// check-backup, release) only read: a dry run, plan.RunOptions{DryRun:
// true}, runs them and changes nothing.
func ExampleReplacePlan() {
	deps := member.Deps{
		Etcd:     newExampleEtcd(), // a *clientv3.Client in a real program
		Kube:     kubefake.NewClientset(),
		Operator: operatorfake.NewClientset(),
	}
	p, err := member.ReplacePlan(deps, member.ReplaceOptions{
		Node:      "ip-10-0-131-183.ec2.internal", // Finding.Node
		State:     member.NodeNotReady,            // Finding.State: runbook 2.4.1
		BackupDir: "/home/core/assets/backup",     // checked with backup.Verify first
		Release:   release.Options{Version: "4.16.3"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range p.Steps {
		fmt.Println(s.ID)
	}
	// Output:
	// identify
	// check-quorum
	// check-backup
	// release
	// remove-member
	// quorum-guard-off
	// delete-node
	// delete-secrets
	// recreate-machine
	// force-redeploy
	// wait-revision
	// quorum-guard-on
	// verify
}
