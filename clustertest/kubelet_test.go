package clustertest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/host"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// waitFor polls cond every 50ms for up to d and fails the test with
// what when it never holds.
func waitFor(t *testing.T, d time.Duration, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	var last error
	err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		ok, err := cond(ctx)
		last = err
		return ok, nil
	})
	if err != nil {
		t.Fatalf("%s: not within %s (last error: %v)", what, d, last)
	}
}

func containerNames(t *testing.T, h *Host, name string) []string {
	t.Helper()
	cs, err := h.Containers(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

// etcdPodState returns what "oc get pods" shows in STATUS for the etcd
// container of node's pod ("Running", "Error", "CrashLoopBackOff"), or
// "absent".
func etcdPodState(ctx context.Context, c *Cluster, node string) (string, int32, error) {
	pod, err := c.Kube.CoreV1().Pods(nsEtcd).Get(ctx, "etcd-"+node, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "absent", 0, nil
	}
	if err != nil {
		return "", 0, err
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name != "etcd" {
			continue
		}
		switch {
		case cs.State.Running != nil:
			return "Running", cs.RestartCount, nil
		case cs.State.Terminated != nil:
			return cs.State.Terminated.Reason, cs.RestartCount, nil
		case cs.State.Waiting != nil:
			return cs.State.Waiting.Reason, cs.RestartCount, nil
		}
	}
	return string(pod.Status.Phase), 0, nil
}

func memberAnswers(ctx context.Context, c *Cluster, h *Host) bool {
	cl, err := newEtcdClient([]string{h.EtcdClientURL()}, c.EtcdTLS())
	if err != nil {
		return false
	}
	defer cl.Close()
	sctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err = cl.Status(sctx, h.EtcdClientURL())
	return err == nil
}

// TestKubelet runs the simulated kubelets through what the runbook does to
// them, on one cluster.
func TestKubelet(t *testing.T) {
	t.Parallel() // its own cluster
	requireBinaries(t)
	c := Start(t, Options{Workers: -1, Interval: 50 * time.Millisecond})
	ctx := t.Context()
	masters := c.Masters()

	t.Run("moving etcd-pod.yaml away stops the member, moving it back restarts it", func(t *testing.T) {
		h := c.Host(masters[0])
		before := h.kubelet.etcdPID()
		if err := h.MkdirAll(ctx, "/var/lib/etcd-backup", 0o700); err != nil {
			t.Fatal(err)
		}
		if err := h.Move(ctx, "/etc/kubernetes/manifests/etcd-pod.yaml", "/var/lib/etcd-backup/etcd-pod.yaml"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 15*time.Second, "etcd containers gone", func(ctx context.Context) (bool, error) {
			return len(containerNames(t, h, "etcd")) == 0, nil
		})
		if h.etcdRunning() || processAlive(before) {
			t.Fatalf("etcd process %d still running", before)
		}
		if memberAnswers(ctx, c, h) {
			t.Fatal("member still answers")
		}
		waitFor(t, 10*time.Second, "mirror pod deleted", func(ctx context.Context) (bool, error) {
			st, _, err := etcdPodState(ctx, c, h.Name())
			return st == "absent", err
		})
		// The other containers keep running.
		if names := containerNames(t, h, "kube-apiserver"); !slices.Contains(names, "kube-apiserver") {
			t.Fatalf("kube-apiserver container gone: %v", names)
		}

		if err := h.Move(ctx, "/var/lib/etcd-backup/etcd-pod.yaml", "/etc/kubernetes/manifests/etcd-pod.yaml"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 15*time.Second, "etcd running again", func(ctx context.Context) (bool, error) {
			st, _, err := etcdPodState(ctx, c, h.Name())
			return st == "Running" && memberAnswers(ctx, c, h), err
		})
		if names := containerNames(t, h, "etcd"); !slices.Equal(sortedNames(names), []string{"etcd", "etcd-metrics", "etcdctl"}) {
			t.Fatalf("etcd containers %v", names)
		}
		cl, err := c.EtcdClient(ctx)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := cl.MemberList(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Members) != 3 {
			t.Fatalf("%d members after restart, want 3", len(resp.Members))
		}
	})

	t.Run("killed member stays down until the kubelet restarts", func(t *testing.T) {
		h := c.Host(masters[1])
		if err := h.killEtcd(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "pod shows Error", func(ctx context.Context) (bool, error) {
			st, _, err := etcdPodState(ctx, c, h.Name())
			return st == "Error", err
		})
		time.Sleep(20 * c.interval) // longer than the crash back-off
		if h.etcdRunning() {
			t.Fatal("killed etcd was restarted without a kubelet restart")
		}
		if err := h.RestartKubelet(ctx); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 15*time.Second, "etcd running after kubelet restart", func(ctx context.Context) (bool, error) {
			st, _, err := etcdPodState(ctx, c, h.Name())
			return st == "Running" && memberAnswers(ctx, c, h), err
		})
	})

	t.Run("crash loop shows Error and CrashLoopBackOff", func(t *testing.T) {
		h := c.Host(masters[2])
		h.setCrashloop(true)
		seen := map[string]bool{}
		waitFor(t, 30*time.Second, "Error and CrashLoopBackOff with restarts", func(ctx context.Context) (bool, error) {
			st, restarts, err := etcdPodState(ctx, c, h.Name())
			seen[st] = true
			return seen["Error"] && seen["CrashLoopBackOff"] && restarts >= 2, err
		})
		if memberAnswers(ctx, c, h) {
			t.Fatal("crash-looping member answers")
		}
		h.setCrashloop(false)
		waitFor(t, 15*time.Second, "etcd running after the crash loop", func(ctx context.Context) (bool, error) {
			st, _, err := etcdPodState(ctx, c, h.Name())
			return st == "Running" && memberAnswers(ctx, c, h), err
		})
	})

	t.Run("kube-apiserver follows its manifests and restarts fresh", func(t *testing.T) {
		starts := c.apiserver.startCount()
		for _, n := range masters {
			if err := c.Host(n).Move(ctx, manifestPath(componentKubeAPIServer), "/tmp/kube-apiserver-pod.yaml"); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, 30*time.Second, "kube-apiserver stopped", func(ctx context.Context) (bool, error) {
			return !c.APIServerRunning(), nil
		})
		if _, err := c.Kube.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err == nil {
			t.Fatal("API answers with no kube-apiserver manifest")
		}
		if err := c.Host(masters[0]).Move(ctx, "/tmp/kube-apiserver-pod.yaml", manifestPath(componentKubeAPIServer)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 60*time.Second, "API answers again", func(ctx context.Context) (bool, error) {
			_, err := c.Kube.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{})
			return err == nil, err
		})
		if got := c.apiserver.startCount(); got != starts+1 {
			t.Fatalf("kube-apiserver started %d times, want %d", got, starts+1)
		}
		for _, n := range masters[1:] {
			if err := c.Host(n).Move(ctx, "/tmp/kube-apiserver-pod.yaml", manifestPath(componentKubeAPIServer)); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("shutdown powers the host off after the scaled delay", func(t *testing.T) {
		h := c.Host(masters[0])
		began := time.Now()
		if err := h.Shutdown(ctx, time.Minute); err != nil {
			t.Fatal(err)
		}
		if !h.Powered() {
			t.Fatal("host off at once; want after the delay")
		}
		waitFor(t, 20*time.Second, "host powered off", func(ctx context.Context) (bool, error) {
			return !h.Powered(), nil
		})
		if d, want := time.Since(began), shutdownTicksPerMinute*c.interval; d < want {
			t.Fatalf("powered off after %s, want at least %s", d, want)
		}
		if _, err := h.ReadFile(ctx, manifestPath(componentEtcd)); !errors.Is(err, ErrHostDown) {
			t.Fatalf("ReadFile on a powered-off host: %v, want ErrHostDown", err)
		}
		if _, err := h.Containers(ctx, ""); !errors.Is(err, ErrHostDown) {
			t.Fatalf("Containers on a powered-off host: %v, want ErrHostDown", err)
		}
		if memberAnswers(ctx, c, h) {
			t.Fatal("member of a powered-off host answers")
		}
		if err := h.PowerOn(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 15*time.Second, "member back after power on", func(ctx context.Context) (bool, error) {
			return memberAnswers(ctx, c, h), nil
		})
	})
}

func sortedNames(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// TestHostAddRemove covers addHost and removeHost, used by the machine API.
func TestHostAddRemove(t *testing.T) {
	t.Parallel() // its own cluster
	requireBinaries(t)
	c := Start(t, Options{Masters: 1, Workers: -1})
	ctx := t.Context()
	const node = "ip-10-0-140-7.ec2.internal"
	h, err := c.addHost(ctx, node, roleMaster)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.addHost(ctx, node, roleMaster); err == nil {
		t.Fatal("adding a host twice succeeded")
	}
	if h.IP() != "10.0.140.7" || c.Host(node) != h || !slices.Contains(c.Masters(), node) {
		t.Fatalf("host %s: ip %q, registered %v", node, h.IP(), c.Masters())
	}
	for _, p := range []string{
		"/etc/kubernetes/static-pod-resources/etcd-certs/secrets/etcd-all-peer/etcd-peer-" + node + ".crt",
		manifestPath(componentKubeAPIServer),
		etcdDataDir,
	} {
		if _, err := h.Stat(ctx, p); err != nil {
			t.Error(err)
		}
	}
	if _, err := h.Stat(ctx, manifestPath(componentEtcd)); err == nil {
		t.Error("new master has an etcd manifest before the operator installs one")
	}
	for _, prefix := range []string{"etcd-peer-", "etcd-serving-", "etcd-serving-metrics-"} {
		if _, err := c.Kube.CoreV1().Secrets(nsEtcd).Get(ctx, prefix+node, metav1.GetOptions{}); err != nil {
			t.Error(err)
		}
	}
	// writeStaticPodRevision on a master without data writes the revision
	// but leaves the live etcd manifest to writeEtcdRevision.
	if err := c.writeStaticPodRevision(h, componentEtcd, 4); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Stat(ctx, revisionDir(componentEtcd, 4)+"/etcd-pod.yaml"); err != nil {
		t.Error(err)
	}
	if _, err := h.Stat(ctx, manifestPath(componentEtcd)); err == nil {
		t.Error("writeStaticPodRevision installed an etcd manifest for a member without data")
	}
	root := h.Root()
	c.removeHost(node)
	if c.Host(node) != nil || slices.Contains(c.Masters(), node) {
		t.Fatal("host still registered after removeHost")
	}
	if _, err := filepath.Glob(filepath.Join(root, "*")); err != nil {
		t.Fatal(err)
	}
	if ok, _ := filepath.Glob(filepath.Join(root, "etc")); len(ok) != 0 {
		t.Fatal("host tree left after removeHost")
	}
}

func TestContainerHostPath(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{Volumes: []corev1.Volume{
		hostPathVolume("resource-dir", "/etc/kubernetes/static-pod-resources/etcd-pod-3"),
		hostPathVolume("cert-dir", "/etc/kubernetes/static-pod-resources/etcd-certs"),
		hostPathVolume("data-dir", "/var/lib/etcd"),
		{Name: "empty"},
	}}}
	ctr := &corev1.Container{VolumeMounts: []corev1.VolumeMount{
		{Name: "resource-dir", MountPath: "/etc/kubernetes/static-pod-resources"},
		{Name: "cert-dir", MountPath: "/etc/kubernetes/static-pod-certs"},
		{Name: "data-dir", MountPath: "/var/lib/etcd"},
		{Name: "empty", MountPath: "/scratch"},
	}}
	for _, tc := range []struct{ name, in, want string }{
		{"cert file through cert-dir", "/etc/kubernetes/static-pod-certs/secrets/etcd-all-peer/a.crt", "/etc/kubernetes/static-pod-resources/etcd-certs/secrets/etcd-all-peer/a.crt"},
		{"mount point itself", "/var/lib/etcd", "/var/lib/etcd"},
		{"below the data dir", "/var/lib/etcd/member/snap", "/var/lib/etcd/member/snap"},
		{"resource dir", "/etc/kubernetes/static-pod-resources/configmaps/x", "/etc/kubernetes/static-pod-resources/etcd-pod-3/configmaps/x"},
		{"prefix but not a path element", "/var/lib/etcd-backup/x", "/var/lib/etcd-backup/x"},
		{"unmounted path", "/usr/bin/etcd", "/usr/bin/etcd"},
		{"non-hostPath volume", "/scratch/f", "/scratch/f"},
		{"cleaned", "/var/lib/etcd/../etcd/member", "/var/lib/etcd/member"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := containerHostPath(pod, ctr, tc.in); got != tc.want {
				t.Errorf("containerHostPath(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestEtcdManifestMapsIntoTheHost(t *testing.T) {
	pki, err := NewPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	c := &Cluster{PKI: pki, dir: root, etcdToken: "tok", hosts: map[string]*Host{}, bins: Binaries{Etcd: "/bin/etcd-test"}, interval: time.Millisecond}
	h := &Host{c: c, name: "m0", role: roleMaster, root: filepath.Join(root, "m0"), clientURL: "https://127.0.0.1:1", peerURL: "https://127.0.0.1:2"}
	c.hosts["m0"] = h
	c.order = []string{"m0"}
	c.log = slog.New(slog.DiscardHandler)
	h.kubelet = newKubelet(c, h)
	data := c.etcdPodManifest("m0", 3, "m0=https://127.0.0.1:2", "new")
	pod, err := parsePodManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	if manifestRevision(pod) != 3 || pod.Name != "etcd" || pod.Namespace != nsEtcd {
		t.Fatalf("manifest %s/%s revision %q", pod.Namespace, pod.Name, pod.Labels["revision"])
	}
	for _, tc := range []struct {
		name  string
		crash bool
	}{{"normal", false}, {"crash loop", true}} {
		t.Run(tc.name, func(t *testing.T) {
			argv, env, err := h.kubelet.etcdCommand(pod, tc.crash)
			if err != nil {
				t.Fatal(err)
			}
			if argv[0] != "/bin/etcd-test" {
				t.Errorf("binary %q", argv[0])
			}
			want := map[string]string{
				"--data-dir":              filepath.Join(h.root, "var/lib/etcd"),
				"--cert-file":             filepath.Join(h.root, "etc/kubernetes/static-pod-resources/etcd-certs/secrets/etcd-all-serving/etcd-serving-m0.crt"),
				"--peer-key-file":         filepath.Join(h.root, "etc/kubernetes/static-pod-resources/etcd-certs/secrets/etcd-all-peer/etcd-peer-m0.key"),
				"--name":                  "m0",
				"--initial-cluster-state": "new",
				"--initial-cluster":       "m0=https://127.0.0.1:2",
			}
			got := map[string]string{}
			for _, a := range argv[1:] {
				k, v, _ := strings.Cut(a, "=")
				got[k] = v
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			if _, has := got[strings.Split(crashFlag, "=")[0]]; has != tc.crash {
				t.Errorf("crash flag present %v, want %v", has, tc.crash)
			}
			if !slices.Contains(env, "ETCD_NODE_NAME=m0") {
				t.Errorf("env %v", env)
			}
		})
	}
	t.Run("not an etcd command", func(t *testing.T) {
		bad := pod.DeepCopy()
		for i := range bad.Spec.Containers {
			if bad.Spec.Containers[i].Name == "etcd" {
				bad.Spec.Containers[i].Command = []string{"/bin/sh", "-c", "exec etcd"}
			}
		}
		if _, _, err := h.kubelet.etcdCommand(bad, false); err == nil {
			t.Fatal("shell command accepted")
		}
	})
}

func TestShutdownScale(t *testing.T) {
	for _, tc := range []struct {
		delay, interval, want time.Duration
	}{
		{time.Minute, 100 * time.Millisecond, time.Second},
		{2 * time.Minute, 50 * time.Millisecond, time.Second},
		{0, 100 * time.Millisecond, 0},
	} {
		t.Run(fmt.Sprint(tc.delay, "@", tc.interval), func(t *testing.T) {
			if got := scaledShutdownDelay(tc.delay, tc.interval); got != tc.want {
				t.Errorf("scaled %s = %s, want %s", tc.delay, got, tc.want)
			}
		})
	}
}

func TestIPFromNodeName(t *testing.T) {
	for in, want := range map[string]string{
		"ip-10-0-131-183.ec2.internal": "10.0.131.183",
		"ip-10-0-1-2":                  "10.0.1.2",
		"master-0":                     "",
	} {
		if got := ipFromNodeName(in); got != want {
			t.Errorf("ipFromNodeName(%q) = %q, want %q", in, got, want)
		}
	}
}

var _ host.Host = (*Host)(nil)
