package backup_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/clustertest"
	"github.com/lifeboat-dev/lifeboat/host/hosttest"
)

// Snapshot one member of a real 3-member TLS etcd cluster (started by
// clustertest; needs the binaries hack/tools.sh builds).
func ExampleSnapshot() {
	ctx := context.Background()
	cluster, err := clustertest.NewEtcdCluster(ctx, clustertest.EtcdOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cluster.Close()
	cli, err := cluster.Client(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	put, err := cli.Put(ctx, "/registry/example", "value")
	if err != nil {
		fmt.Println(err)
		return
	}

	dir, _ := os.MkdirTemp("", "backup")
	defer os.RemoveAll(dir)
	res, err := backup.Snapshot(ctx, cli, dir, backup.SnapshotOptions{Name: "snapshot.db"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fi, _ := os.Stat(res.Path)
	fmt.Println("saved:", filepath.Base(res.Path), fi.Mode())
	fmt.Println("revision as written:", res.Revision == put.Header.Revision)
	fmt.Println("sha256 of the file:", len(res.SHA256), "hex digits")
	// Output:
	// saved: snapshot.db -rw-------
	// revision as written: true
	// sha256 of the file: 64 hex digits
}

// Verify a backup directory: here one made of a snapshot and the static
// pod resources of a host tree, as cluster-backup.sh lays them out.
func ExampleVerify() {
	ctx := context.Background()
	cluster, err := clustertest.NewEtcdCluster(ctx, clustertest.EtcdOptions{Members: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cluster.Close()
	cli, err := cluster.Client(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}

	// A master's /etc/kubernetes with revision 7 of each static pod.
	root, _ := os.MkdirTemp("", "master")
	defer os.RemoveAll(root)
	for _, c := range backup.Components() {
		res := filepath.Join(root, "etc/kubernetes/static-pod-resources", c+"-pod-7")
		os.MkdirAll(res, 0o755)
		os.WriteFile(filepath.Join(res, c+"-pod.yaml"), []byte("kind: Pod\n"), 0o644)
		os.MkdirAll(filepath.Join(root, "etc/kubernetes/manifests"), 0o755)
		os.WriteFile(filepath.Join(root, "etc/kubernetes/manifests", c+"-pod.yaml"),
			[]byte("kind: Pod\nmetadata:\n  labels:\n    revision: \"7\"\n"), 0o644)
	}
	master := hosttest.NewDir("master-0", root, hosttest.DirOptions{})

	dir, _ := os.MkdirTemp("", "backup")
	defer os.RemoveAll(dir)
	stamp := backup.Timestamp(time.Date(2020, 3, 18, 22, 2, 18, 0, time.Local))
	if _, err := backup.ArchiveStaticResources(ctx, master, dir, backup.ResourcesOptions{Name: backup.ResourcesFileName(stamp, false)}); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := backup.Snapshot(ctx, cli, dir, backup.SnapshotOptions{Name: backup.SnapshotFileName(stamp, false)}); err != nil {
		fmt.Println(err)
		return
	}

	b, err := backup.Verify(ctx, dir, backup.VerifyOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(b.Timestamp, b.Snapshot.Name, b.Resources.Name)
	for _, rd := range b.ResourceDirs {
		fmt.Println(rd.Path)
	}
	// Output:
	// 2020-03-18_220218 snapshot_2020-03-18_220218.db static_kuberesources_2020-03-18_220218.tar.gz
	// /etc/kubernetes/static-pod-resources/kube-apiserver-pod-7
	// /etc/kubernetes/static-pod-resources/kube-controller-manager-pod-7
	// /etc/kubernetes/static-pod-resources/kube-scheduler-pod-7
	// /etc/kubernetes/static-pod-resources/etcd-pod-7
}

// The proxy settings of the cluster, ready to export on a master.
func ExampleProxy_Env() {
	p := backup.Proxy{HTTPProxy: "http://proxy.example:3128", NoProxy: ".cluster.local"}
	fmt.Println(p.Enabled(), p.Env())
	// Output: true [HTTP_PROXY=http://proxy.example:3128 NO_PROXY=.cluster.local]
}
