package restore

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/lifeboat-dev/lifeboat/internal/mounttest"
)

// An etcd-pod.yaml in the style of the cluster's: a shell script with the
// member's identity in environment variables.
const scriptEtcdPod = `apiVersion: v1
kind: Pod
metadata:
  name: etcd
  namespace: openshift-etcd
  labels:
    revision: "7"
spec:
  containers:
  - name: etcdctl
    image: quay.io/openshift/etcd@sha256:1
    command: ["/bin/bash", "-c", "sleep infinity"]
  - name: etcd
    image: quay.io/openshift/etcd@sha256:1
    command:
    - /bin/sh
    - -c
    - |
      #!/bin/sh
      set -euo pipefail
      exec etcd \
        --initial-advertise-peer-urls=https://${NODE_master_0_IP}:2380 \
        --name ${NODE_master_0_ETCD_NAME} \
        --data-dir /var/lib/etcd
    env:
    - name: NODE_master_0_IP
      value: 10.0.0.3
    - name: NODE_master_0_ETCD_NAME
      value: master-0
    volumeMounts:
    - name: data-dir
      mountPath: /var/lib/etcd
  volumes:
  - name: data-dir
    hostPath:
      path: /var/lib/etcd
`

func TestMemberFromEtcdPod(t *testing.T) {
	cases := []struct {
		name     string
		manifest string
		want     memberIdentity
		wantErr  bool
	}{
		{"script with env", scriptEtcdPod, memberIdentity{Name: "master-0", PeerURL: "https://10.0.0.3:2380"}, false},
		{"plain command", etcdPodYAML("m1", "https://127.0.0.1:4001", 3), memberIdentity{Name: "m1", PeerURL: "https://127.0.0.1:4001"}, false},
		{"unresolved variable", strings.ReplaceAll(scriptEtcdPod, "NODE_master_0_IP\n      value: 10.0.0.3", "OTHER\n      value: x"), memberIdentity{}, true},
		{"no etcd container", "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: x\n", memberIdentity{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := memberFromEtcdPod([]byte(tc.manifest))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if !tc.wantErr && got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestBuildRestorePodManifest(t *testing.T) {
	out, err := buildRestorePod([]byte(scriptEtcdPod), restorePodConfig{
		Member:       memberIdentity{Name: "master-0", PeerURL: "https://10.0.0.3:2380"},
		ClusterToken: "openshift-etcd-abc", RevisionBump: 12345,
	})
	if err != nil {
		t.Fatal(err)
	}
	var pod corev1.Pod
	if err := yaml.Unmarshal(out, &pod); err != nil {
		t.Fatal(err)
	}
	var etcd *corev1.Container
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == "etcd" {
			etcd = &pod.Spec.Containers[i]
		}
	}
	if etcd == nil || etcd.Image != "quay.io/openshift/etcd@sha256:1" || len(pod.Spec.Containers) != 2 {
		t.Fatalf("the restore pod does not keep the cluster's image and containers: %s", out)
	}
	script := etcd.Command[2]
	for _, want := range []string{
		"etcdutl snapshot restore /var/lib/etcd-backup/snapshot.db --name master-0",
		"--initial-cluster master-0=https://10.0.0.3:2380",
		"--initial-cluster-token openshift-etcd-abc",
		"--bump-revision 12345 --mark-compacted",
		"ETCDCTL_API=3 etcdctl snapshot restore",
		"exec etcd \\",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
	if pod.Annotations[restorePodAnnotation] != "true" {
		t.Error("restore pod not annotated")
	}
	found := false
	for _, v := range pod.Spec.Volumes {
		if v.HostPath != nil && v.HostPath.Path == "/var/lib/etcd-backup" {
			found = true
		}
	}
	if !found {
		t.Error("no volume for the staged snapshot")
	}
}

// TestRestorePodScriptRestores runs the restore pod's script the way the
// container would, with the real etcdutl binary standing for the image's,
// and checks the data directory it leaves: restored, bumped, compacted,
// also when the data directory is its own disk (lost+found is tolerated).
func TestRestorePodScriptRestores(t *testing.T) {
	etcdutl := os.Getenv("LIFEBOAT_ETCDUTL")
	if etcdutl == "" {
		home, _ := os.UserHomeDir()
		etcdutl = filepath.Join(home, ".cache/lifeboat/bin/etcd-v3.7.3/etcdutl")
	}
	if _, err := os.Stat(etcdutl); err != nil {
		t.Skipf("etcdutl binary missing (run hack/tools.sh): %v", err)
	}
	cases := []struct {
		name    string
		ownDisk bool // the data directory is a fresh ext4 mount holding lost+found
	}{
		{name: "data directory"},
		{name: "data directory on its own disk", ownDisk: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			snap, rev := makeSnapshot(t, 8)
			root := t.TempDir()
			dataDir := filepath.Join(root, "var/lib/etcd")
			staged := filepath.Join(root, "var/lib/etcd-backup/snapshot.db")
			os.MkdirAll(dataDir, 0o700)
			if tc.ownDisk {
				mounttest.MountAt(t, mounttest.Ext4, dataDir) // holds lost+found
			}
			os.MkdirAll(filepath.Dir(staged), 0o700)
			b, _ := os.ReadFile(snap)
			os.WriteFile(staged, b, 0o600)

			pu := freeURL(t)
			peer := pu.String()
			base := etcdPodYAML("master-0", peer, 3)
			// The "etcd" started after the restore is a marker here.
			base = strings.Replace(base, "    - etcd\n", "    - touch\n    - "+filepath.Join(root, "etcd-started")+"\n    - etcd\n", 1)
			out, err := buildRestorePod([]byte(base), restorePodConfig{
				Member: memberIdentity{Name: "master-0", PeerURL: peer}, ClusterToken: "tok", RevisionBump: 777,
				SnapshotPath: staged, DataDir: dataDir,
			})
			if err != nil {
				t.Fatal(err)
			}
			var pod corev1.Pod
			yaml.Unmarshal(out, &pod)
			script := pod.Spec.Containers[0].Command[2]
			bin := t.TempDir()
			os.Symlink(etcdutl, filepath.Join(bin, "etcdutl"))
			// The marker command ignores etcd's flags.
			os.WriteFile(filepath.Join(bin, "touch"), []byte("#!/bin/sh\n: > \"$1\"\n"), 0o755)
			for run := 1; run <= 2; run++ { // a restarted container must not fail
				cmd := exec.Command("/bin/sh", "-c", script)
				cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
				if o, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("run %d of the restore script: %v\n%s", run, err, o)
				}
			}
			if _, err := os.Stat(filepath.Join(root, "etcd-started")); err != nil {
				t.Fatal("the script did not go on to start etcd")
			}
			// Restored, the staged copy is consumed, as the cluster's restore
			// pod removes it: no later attempt can restore it by mistake.
			if _, err := os.Stat(staged); !os.IsNotExist(err) {
				t.Errorf("staged snapshot %s still there after the restore: %v", staged, err)
			}
			te := startEmbed(t, dataDir, "master-0", peer)
			got, err := te.client.Get(context.Background(), "/registry/test/3")
			if err != nil || len(got.Kvs) != 1 {
				t.Fatalf("restored data: %v %v", err, got)
			}
			if got.Header.Revision != rev+777 {
				t.Errorf("revision %d, want %d", got.Header.Revision, rev+777)
			}
		})
	}
}
