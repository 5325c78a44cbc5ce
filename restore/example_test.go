package restore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	configv1 "github.com/openshift/api/config/v1"
	configfake "github.com/openshift/client-go/config/clientset/versioned/fake"
	operatorfake "github.com/openshift/client-go/operator/clientset/versioned/fake"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/host/hosttest"
	"github.com/lifeboat-dev/lifeboat/restore"
	"github.com/lifeboat-dev/lifeboat/restore/inprocess"
)

// A snapshot is refused before anything is written when the target data
// directory is not empty.
func ExampleRestoreSnapshot() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	dataDir := filepath.Join(dir, "etcd")
	os.MkdirAll(filepath.Join(dataDir, "member"), 0o700)

	_, err := restore.RestoreSnapshot(context.Background(), filepath.Join(dir, "snapshot.db"), dataDir, restore.SnapshotOptions{
		Writer:  inprocess.WriteDataDir,
		Name:    "master-0",
		PeerURL: "https://10.0.0.3:2380",
	})
	var notEmpty *restore.TargetNotEmptyError
	fmt.Println(errors.As(err, &notEmpty), notEmpty.Entries)
	// Output: true [member]
}

// Decide chooses how a snapshot is restored: in process when the cluster's
// etcd reads what lifeboat's etcdutl writes, else with the cluster's own
// etcd image.
func ExampleDecide() {
	for _, clusterEtcd := range []string{"3.7.3", "3.4.9"} {
		d, _ := restore.Decide("", clusterEtcd)
		fmt.Println(clusterEtcd, d.Method)
	}
	// Output:
	// 3.7.3 in-process
	// 3.4.9 restore-pod
}

// Plan lists the steps without touching anything: the hosts here fail
// every operation (hosttest.Unimplemented), and building the plan calls
// none.
func ExamplePlan() {
	p, err := restore.Plan(restore.Deps{
		Recovery:  hosttest.Unimplemented("master-0"),
		Others:    []host.Host{hosttest.Unimplemented("master-1")},
		Kube:      kubefake.NewClientset(),
		Operator:  operatorfake.NewClientset(),
		InProcess: inprocess.WriteDataDir,
	}, restore.Options{
		BackupDir: "/srv/backups/2026-11-24",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range p.Steps[:6] {
		fmt.Println(s.ID)
	}
	// Output:
	// verify-backup
	// copy-backup
	// stop-etcd/master-1
	// stop-kube-apiserver/master-1
	// move-etcd-data/master-1
	// stop-static-pods/master-0
}

// ResolvePlan returns the plan Run will run: it decides the procedure
// generation as Run does, reading only, here from the ClusterVersion of
// a 4.20 cluster (a fake client): the etcd-only restore, without
// Options.Release stating it. The hosts are empty directory trees.
func ExampleResolvePlan() {
	root, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(root)
	cv := &configv1.ClusterVersion{ObjectMeta: metav1.ObjectMeta{Name: "version"}}
	cv.Status.History = []configv1.UpdateHistory{{State: configv1.CompletedUpdate, Version: "4.20.3"}}

	p, choice, err := restore.ResolvePlan(context.Background(), restore.Deps{
		Recovery:  hosttest.NewDir("master-0", filepath.Join(root, "master-0"), hosttest.DirOptions{}),
		Others:    []host.Host{hosttest.NewDir("master-1", filepath.Join(root, "master-1"), hosttest.DirOptions{})},
		Kube:      kubefake.NewClientset(),
		Operator:  operatorfake.NewClientset(),
		Config:    configfake.NewClientset(cv), // the cluster's ClusterVersion
		InProcess: inprocess.WriteDataDir,
	}, restore.Options{
		BackupDir: "/srv/backups/2026-11-24",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(choice.Plan, "plan, decided by", choice.DecidedBy, "from release", choice.Version)
	for _, s := range p.Steps[:5] {
		fmt.Println(s.ID)
	}
	// Output:
	// etcd-only plan, decided by cluster from release 4.20.3
	// verify-backup
	// copy-backup
	// stop-etcd/master-1
	// stop-etcd/master-0
	// move-etcd-data/master-0
}
