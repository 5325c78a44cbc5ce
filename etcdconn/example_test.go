package etcdconn_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat/clustertest"
	"github.com/lifeboat-dev/lifeboat/etcdconn"
)

// In the shell `oc rsh -n openshift-etcd etcd-<node>` opens, the ETCDCTL_*
// variables are already set; here a test cluster stands in for them.
func ExampleFromEnv() {
	ctx := context.Background()
	cluster, err := clustertest.NewEtcdCluster(ctx, clustertest.EtcdOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer cluster.Close()
	files := cluster.ClientTLS()
	for k, v := range map[string]string{
		"ETCDCTL_ENDPOINTS": strings.Join(cluster.Endpoints(), ","),
		"ETCDCTL_CACERT":    files.CAFile,
		"ETCDCTL_CERT":      files.CertFile,
		"ETCDCTL_KEY":       files.KeyFile,
	} {
		os.Setenv(k, v)
		defer os.Unsetenv(k)
	}

	cli, err := etcdconn.FromEnv(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer cli.Close()
	// The equivalent of "etcdctl member list".
	members, err := cli.MemberList(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range members.Members {
		fmt.Println(m.Name)
	}
	// Unordered output:
	// master-0
	// master-1
	// master-2
}

func ExampleNew() {
	ctx := context.Background()
	cluster, err := clustertest.NewEtcdCluster(ctx, clustertest.EtcdOptions{Members: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer cluster.Close()
	files := cluster.ClientTLS()

	cli, err := etcdconn.New(ctx, etcdconn.Config{
		Endpoints:   cluster.Endpoints(),
		CAFile:      files.CAFile,
		CertFile:    files.CertFile,
		KeyFile:     files.KeyFile,
		DialTimeout: 10 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.Put(ctx, "/lifeboat/example", "hello"); err != nil {
		log.Fatal(err)
	}
	resp, err := cli.Get(ctx, "/lifeboat/example")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", resp.Kvs[0].Value)
	// Output: hello
}
