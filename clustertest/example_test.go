package clustertest_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/lifeboat-dev/lifeboat/clustertest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// An embedder's test of a step of the runbook's 2.4.2 ("stop the
// crashlooping etcd pod"): move etcd-pod.yaml out of the kubelet's manifest
// directory on a master and check that the etcd containers are gone, the
// way an administrator does with "crictl ps". In a test, call
// clustertest.Start(t, clustertest.Options{}) instead of New and Close.
//
// The example needs the etcd and kube-apiserver binaries (hack/tools.sh),
// so it has no Output line; TestKubelet runs the same steps.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	c, err := clustertest.New(ctx, clustertest.Options{})
	if errors.Is(err, clustertest.ErrBinariesMissing) {
		fmt.Println("run hack/tools.sh first")
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	// The cluster as "oc get etcd" shows it.
	etcd, err := c.Operator.OperatorV1().Etcds().Get(ctx, "cluster", metav1.GetOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("etcd at revision", etcd.Status.LatestAvailableRevision, "on", len(etcd.Status.NodeStatuses), "masters")

	// On one master: mkdir /var/lib/etcd-backup; mv /etc/kubernetes/manifests/etcd-pod.yaml /var/lib/etcd-backup/
	node := c.Masters()[0]
	h := c.Host(node)
	if err := h.MkdirAll(ctx, "/var/lib/etcd-backup", 0o700); err != nil {
		log.Fatal(err)
	}
	if err := h.Move(ctx, "/etc/kubernetes/manifests/etcd-pod.yaml", "/var/lib/etcd-backup/etcd-pod.yaml"); err != nil {
		log.Fatal(err)
	}

	// crictl ps --name etcd, until it lists nothing.
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		cs, err := h.Containers(ctx, "etcd")
		return len(cs) == 0, err
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("etcd stopped on", node)
}
