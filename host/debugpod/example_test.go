package debugpod_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/lifeboat-dev/lifeboat/host/debugpod"
)

// Runbook 1.1 steps 1-2, "oc debug node/<node>" then "chroot /host": list
// the etcd containers of a master. (Not run: it needs a real cluster.)
func ExampleNew() {
	ctx := context.Background()
	config, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		log.Fatal(err)
	}
	kube, err := kubernetes.NewForConfig(config)
	if err != nil {
		log.Fatal(err)
	}
	h, err := debugpod.New(ctx, kube, config, debugpod.Config{Node: "master-0"})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close(ctx)
	containers, err := h.Containers(ctx, "etcd")
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range containers {
		fmt.Println(c.Name, c.State)
	}
}
