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

// Stream a backup straight from etcd to a file:// bucket (s3://,
// azblob:// and gs:// work the same), nothing written to the master's
// disk, and fetch it back. Needs the etcd binaries hack/tools.sh builds.
func ExampleStream() {
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
	work, _ := os.MkdirTemp("", "offsite-stream")
	defer os.RemoveAll(work)
	root := filepath.Join(work, "master") // a master's /etc/kubernetes, revision 7
	for _, c := range backup.Components() {
		os.MkdirAll(filepath.Join(root, "etc/kubernetes/static-pod-resources", c+"-pod-7"), 0o755)
		os.WriteFile(filepath.Join(root, "etc/kubernetes/static-pod-resources", c+"-pod-7", c+"-pod.yaml"), []byte("kind: Pod\n"), 0o644)
		os.MkdirAll(filepath.Join(root, "etc/kubernetes/manifests"), 0o755)
		os.WriteFile(filepath.Join(root, "etc/kubernetes/manifests", c+"-pod.yaml"),
			[]byte("kind: Pod\nmetadata:\n  labels:\n    revision: \"7\"\n"), 0o644)
	}

	key, _ := age.GenerateX25519Identity() // keep its String() somewhere safe, off the cluster
	bucket := "file://" + filepath.Join(work, "bucket") + "?create_dir=1"
	// Progress goes through the context, as for every lifeboat call: here
	// the bytes of each object, named in the event's message.
	var streamed int64
	report := func(e plan.Event) {
		if e.Message == "streaming snapshot_2020-03-18_220218__POSSIBLY_DIRTY__.db" {
			streamed = e.BytesDone
		}
	}
	res, err := offsite.Stream(plan.WithReport(ctx, report), cli, offsite.StreamOptions{
		Host:        hosttest.NewDir("master-0", root, hosttest.DirOptions{}),
		Force:       true, // no Kubernetes API in this example
		Destination: offsite.Destination{URL: bucket, Prefix: "prod", Recipients: []string{key.Recipient().String()}},
		Now:         func() time.Time { return time.Date(2020, 3, 18, 22, 2, 18, 0, time.Local) },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	snap := res.Manifest.Object(offsite.RoleSnapshot)
	fmt.Println("streamed:", res.Manifest.ID, snap.Codec, "verified:", res.Manifest.Verified, "all bytes reported:", streamed == snap.Size)

	got, err := offsite.Fetch(ctx, res.Manifest.ID, filepath.Join(work, "restore"), offsite.FetchOptions{
		Source:     offsite.Destination{URL: bucket, Prefix: "prod"},
		Identities: []age.Identity{key},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("fetched:", got.Snapshot.Name, got.Snapshot.SHA256 == snap.SHA256)
	// Output:
	// streamed: 2020-03-18_220218__POSSIBLY_DIRTY__ zstd+age verified: true all bytes reported: true
	// fetched: snapshot_2020-03-18_220218__POSSIBLY_DIRTY__.db true
}
