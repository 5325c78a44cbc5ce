package debugpod

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/internal/opterr"
)

// DefaultImage is the image "oc debug node/<name>" falls back to.
const DefaultImage = "registry.redhat.io/rhel8/support-tools"

// debugContainer is the name of the debug pod's only container, as oc
// debug names it.
const debugContainer = "container-00"

// ErrNotRunning is wrapped by New when the pod it created
// did not reach Running (it failed, or StartTimeout passed). The pod has
// been deleted.
var ErrNotRunning = errors.New("debug pod is not running")

// Config configures a [Host]. Zero values are documented per field.
type Config struct {
	// Node is the node to debug. Required.
	Node string
	// Namespace of the debug pod. Empty means "default". It must allow
	// privileged pods.
	Namespace string
	// Image of the debug container; it needs sh and chroot. Empty means
	// DefaultImage.
	Image string
	// Lifetime bounds how long the pod lives if Close is never called
	// (its sleep and activeDeadlineSeconds). Zero means 4 hours.
	Lifetime time.Duration
	// StartTimeout bounds the wait for the pod to run. Zero means 5 minutes.
	StartTimeout time.Duration
	// PollInterval is how often the pod's phase is read while waiting.
	// Zero means one second.
	PollInterval time.Duration
	// Logger receives debug records of every command. Nil discards them.
	Logger *slog.Logger
}

func (c *Config) defaults() {
	if c.Namespace == "" {
		c.Namespace = "default"
	}
	if c.Image == "" {
		c.Image = DefaultImage
	}
	if c.Lifetime == 0 {
		c.Lifetime = 4 * time.Hour
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = 5 * time.Minute
	}
	if c.PollInterval == 0 {
		c.PollInterval = time.Second
	}
}

// Host is a master reached the way the runbook's "oc debug
// node/<name>" and "chroot /host" reach it: a privileged pod on the node
// with the host's root filesystem mounted at /host, in the host's network,
// PID and IPC namespaces. Every typed operation is one of the runbook's
// shell commands run as "chroot /host sh -c '<command>'" through the pod's
// exec subresource (WebSocket, falling back to SPDY), built on
// [host.NewShell]. Host implements [host.Host]; Close deletes the pod.
//
// It needs a working API server and kubelet on the node: it cannot reach a
// host whose kubelet is down, nor any host once the API server is gone
// (runbook 5.3 therefore uses [host.SSH]).
//
// It lives in its own package because it needs client-go: importing
// package host for host.Local or host.SSH stays light.
type Host struct {
	host.Host
	name       string
	log        *slog.Logger
	kube       kubernetes.Interface
	restConfig *rest.Config
	execClient rest.Interface // core/v1 client built from restConfig, for exec
	spdyOnly   atomic.Bool    // the API server refused WebSocket exec once
	namespace  string
	pod        string
}

var _ host.Host = (*Host)(nil)

// New creates the debug pod for cfg.Node and waits until it runs.
// restConfig is used for exec. If the pod does not start, it is deleted and
// the error wraps ErrNotRunning.
func New(ctx context.Context, kube kubernetes.Interface, restConfig *rest.Config, cfg Config) (*Host, error) {
	if kube == nil {
		return nil, opterr.Nil("debugpod.New kube")
	}
	if cfg.Node == "" {
		return nil, opterr.Nil("debugpod.Config.Node")
	}
	if restConfig == nil {
		return nil, opterr.New("debugpod.New restConfig", "is required for exec on %s", cfg.Node)
	}
	cfg.defaults()
	execClientset, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return nil, fmt.Errorf("debug pod for %s: %w", cfg.Node, err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("host", cfg.Node)

	if _, err := kube.CoreV1().Nodes().Get(ctx, cfg.Node, metav1.GetOptions{}); err != nil {
		return nil, fmt.Errorf("debug pod for %s: %w", cfg.Node, err)
	}
	created, err := kube.CoreV1().Pods(cfg.Namespace).Create(ctx, debugPodObject(cfg), metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("debug pod for %s: creating pod: %w", cfg.Node, err)
	}
	d := &Host{name: cfg.Node, log: log, kube: kube, restConfig: restConfig, execClient: execClientset.CoreV1().RESTClient(), namespace: created.Namespace, pod: created.Name}
	if d.namespace == "" {
		d.namespace = cfg.Namespace
	}
	if d.Host, err = host.NewShell(cfg.Node, d.runLine, log); err != nil {
		return nil, err
	}
	log.Debug("debug pod created", "namespace", d.namespace, "pod", d.pod)

	if err := d.waitRunning(ctx, cfg); err != nil {
		// Do not leave a privileged pod behind, even when ctx is what ended.
		cleanupCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if derr := d.Close(cleanupCtx); derr != nil {
			log.Warn("deleting debug pod that did not start", "pod", d.pod, "err", derr)
		}
		return nil, err
	}
	return d, nil
}

// debugPodObject is the pod "oc debug node/<name>" creates, plus
// tolerations for every taint (a NotReady or unreachable master is tainted
// NoExecute), hostIPC, and a bounded lifetime.
func debugPodObject(cfg Config) *corev1.Pod {
	yes := true
	root := int64(0)
	grace := int64(0)
	lifetime := int64((cfg.Lifetime + time.Second - 1) / time.Second)
	hostPathDir := corev1.HostPathDirectory
	prefix := cfg.Node
	if len(prefix) > 40 {
		prefix = strings.TrimRight(prefix[:40], "-.")
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: prefix + "-debug-",
			Namespace:    cfg.Namespace,
			Labels:       map[string]string{"app.kubernetes.io/managed-by": "lifeboat"},
			Annotations: map[string]string{
				"debug.openshift.io/source-container": debugContainer,
				"debug.openshift.io/source-resource":  "/v1, Resource=nodes/" + cfg.Node,
			},
		},
		Spec: corev1.PodSpec{
			NodeName:                      cfg.Node,
			HostNetwork:                   true,
			HostPID:                       true,
			HostIPC:                       true,
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: &grace,
			ActiveDeadlineSeconds:         &lifetime,
			EnableServiceLinks:            new(bool),
			Tolerations:                   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			Volumes: []corev1.Volume{{
				Name: "host",
				VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
					Path: "/",
					Type: &hostPathDir,
				}},
			}},
			Containers: []corev1.Container{{
				Name:    debugContainer,
				Image:   cfg.Image,
				Command: []string{"/bin/sh", "-c", "sleep " + strconv.FormatInt(lifetime, 10)},
				SecurityContext: &corev1.SecurityContext{
					Privileged: &yes,
					RunAsUser:  &root,
				},
				VolumeMounts: []corev1.VolumeMount{{Name: "host", MountPath: "/host"}},
			}},
		},
	}
}

// waitRunning polls the pod until it is Running, fails, or StartTimeout
// passes.
func (d *Host) waitRunning(ctx context.Context, cfg Config) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	var last *corev1.Pod
	err := wait.PollUntilContextCancel(ctx, cfg.PollInterval, true, func(ctx context.Context) (bool, error) {
		p, err := d.kube.CoreV1().Pods(d.namespace).Get(ctx, d.pod, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				return false, fmt.Errorf("%w: pod %s/%s was deleted", ErrNotRunning, d.namespace, d.pod)
			}
			return false, nil // transient; retry until the deadline
		}
		last = p
		switch p.Status.Phase {
		case corev1.PodRunning:
			return true, nil
		case corev1.PodFailed, corev1.PodSucceeded:
			return false, fmt.Errorf("%w: pod %s/%s is %s%s", ErrNotRunning, d.namespace, d.pod, p.Status.Phase, podReason(p))
		}
		return false, nil
	})
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrNotRunning) {
		return fmt.Errorf("debug pod for %s: %w", d.name, err)
	}
	phase := "not found yet"
	if last != nil {
		phase = string(last.Status.Phase) + podReason(last)
	}
	return fmt.Errorf("debug pod for %s: %w: pod %s/%s is %s: %w", d.name, ErrNotRunning, d.namespace, d.pod, phase, err)
}

// podReason describes why a pod is not running, from its status.
func podReason(p *corev1.Pod) string {
	var parts []string
	if p.Status.Reason != "" {
		parts = append(parts, p.Status.Reason)
	}
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			parts = append(parts, cs.Name+": "+w.Reason+" "+w.Message)
		}
		if t := cs.State.Terminated; t != nil {
			parts = append(parts, fmt.Sprintf("%s: terminated (%s, exit %d)", cs.Name, t.Reason, t.ExitCode))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.TrimSpace(strings.Join(parts, "; ")) + ")"
}

// Pod returns the namespace and name of the debug pod.
func (d *Host) Pod() (namespace, name string) { return d.namespace, d.pod }

// runLine runs "chroot /host sh -c <line>" in the debug container through
// the exec subresource. ctx ending closes the stream.
func (d *Host) runLine(ctx context.Context, line string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	req := d.execClient.Post().
		Namespace(d.namespace).Resource("pods").Name(d.pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: debugContainer,
			Command:   []string{"chroot", "/host", "sh", "-c", line},
			Stdin:     stdin != nil,
			Stdout:    true,
			Stderr:    true,
		}, scheme.ParameterCodec)
	u := req.URL()
	streams := remotecommand.StreamOptions{Stdin: stdin, Stdout: stdout, Stderr: stderr}
	if !d.spdyOnly.Load() {
		ws, err := remotecommand.NewWebSocketExecutor(d.restConfig, "GET", u.String())
		if err != nil {
			return -1, err
		}
		err = ws.StreamWithContext(ctx, streams)
		if !httpstream.IsUpgradeFailure(err) && !httpstream.IsHTTPSProxyError(err) {
			return execResult(ctx, err)
		}
		// An API server older than Kubernetes 1.30 (OpenShift 4.5 is 1.18)
		// speaks SPDY only: use it from now on.
		d.log.Debug("exec over WebSocket refused, falling back to SPDY", "err", err)
		d.spdyOnly.Store(true)
	}
	spdy, err := remotecommand.NewSPDYExecutor(d.restConfig, "POST", u)
	if err != nil {
		return -1, err
	}
	return execResult(ctx, spdy.StreamWithContext(ctx, streams))
}

// execResult turns the error of an exec stream into an exit code.
func execResult(ctx context.Context, err error) (int, error) {
	var ee utilexec.ExitError
	if errors.As(err, &ee) && ee.Exited() {
		return ee.ExitStatus(), nil
	}
	if err != nil {
		if ctx.Err() != nil {
			return -1, ctx.Err()
		}
		return -1, err
	}
	return 0, nil
}

// Close deletes the debug pod at once (grace period 0). Deleting a pod
// that is already gone is not an error.
func (d *Host) Close(ctx context.Context) error {
	grace := int64(0)
	err := d.kube.CoreV1().Pods(d.namespace).Delete(ctx, d.pod, metav1.DeleteOptions{GracePeriodSeconds: &grace})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("debug pod for %s: deleting %s/%s: %w", d.name, d.namespace, d.pod, err)
	}
	d.log.Debug("debug pod deleted", "namespace", d.namespace, "pod", d.pod)
	return nil
}
