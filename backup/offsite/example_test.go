package offsite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"filippo.io/age"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/backup/offsite"
	"github.com/lifeboat-dev/lifeboat/clustertest"
	"github.com/lifeboat-dev/lifeboat/host/hosttest"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// Take a backup, upload it compressed and encrypted to a file:// bucket
// (s3://, azblob:// and gs:// work the same), list it without a key, and
// fetch it back into the cluster-backup.sh layout. Needs the etcd
// binaries hack/tools.sh builds.
func ExampleUpload() {
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
	work, _ := os.MkdirTemp("", "offsite")
	defer os.RemoveAll(work)
	// A master's /etc/kubernetes with revision 7 of each static pod.
	root := filepath.Join(work, "master")
	for _, c := range backup.Components() {
		res := filepath.Join(root, "etc/kubernetes/static-pod-resources", c+"-pod-7")
		os.MkdirAll(res, 0o755)
		os.WriteFile(filepath.Join(res, c+"-pod.yaml"), []byte("kind: Pod\n"), 0o644)
		os.MkdirAll(filepath.Join(root, "etc/kubernetes/manifests"), 0o755)
		os.WriteFile(filepath.Join(root, "etc/kubernetes/manifests", c+"-pod.yaml"),
			[]byte("kind: Pod\nmetadata:\n  labels:\n    revision: \"7\"\n"), 0o644)
	}
	b := new(backup.Backup)
	take, err := backup.TakePlan(backup.TakeDeps{Etcd: cli, Host: hosttest.NewDir("master-0", root, hosttest.DirOptions{})}, backup.TakeOptions{
		Dir:    filepath.Join(work, "backup"),
		Force:  true, // no Kubernetes API in this example
		Now:    func() time.Time { return time.Date(2020, 3, 18, 22, 2, 18, 0, time.Local) },
		Result: b,
	})
	if err == nil {
		err = take.Run(ctx, plan.RunOptions{})
	}
	if err != nil {
		fmt.Println(err)
		return
	}

	key, _ := age.GenerateX25519Identity() // keep its String() somewhere safe, off the cluster
	bucket := "file://" + filepath.Join(work, "bucket") + "?create_dir=1"
	m, err := offsite.Upload(ctx, b.Dir, offsite.UploadOptions{
		Destination: offsite.Destination{URL: bucket, Prefix: "prod", Recipients: []string{key.Recipient().String()}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("uploaded:", m.ID, m.Object(offsite.RoleSnapshot).Key, m.Object(offsite.RoleSnapshot).Codec, "verified:", m.Verified)

	listed, _ := offsite.List(ctx, offsite.Destination{URL: bucket, Prefix: "prod"}, offsite.ListOptions{})
	fmt.Println("listed:", len(listed), listed[0].ID, listed[0].Verified)

	restored := filepath.Join(work, "restore")
	got, err := offsite.Fetch(ctx, m.ID, restored, offsite.FetchOptions{
		Source:     offsite.Destination{URL: bucket, Prefix: "prod"},
		Identities: []age.Identity{key},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("fetched:", got.Snapshot.Name, got.Resources.Name, got.Snapshot.SHA256 == b.Snapshot.SHA256)
	// Output:
	// uploaded: 2020-03-18_220218__POSSIBLY_DIRTY__ 2020-03-18_220218__POSSIBLY_DIRTY__/snapshot_2020-03-18_220218__POSSIBLY_DIRTY__.db.zst.age zstd+age verified: true
	// listed: 1 2020-03-18_220218__POSSIBLY_DIRTY__ true
	// fetched: snapshot_2020-03-18_220218__POSSIBLY_DIRTY__.db static_kuberesources_2020-03-18_220218__POSSIBLY_DIRTY__.tar.gz true
}
