package lifecycle

import (
	"context"

	operatorv1 "github.com/openshift/api/operator/v1"
	operatorclient "github.com/openshift/client-go/operator/clientset/versioned"
	operatorv1client "github.com/openshift/client-go/operator/clientset/versioned/typed/operator/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/lifeboat-dev/lifeboat/internal/names"
	"github.com/lifeboat-dev/lifeboat/internal/opterr"
)

// Operator names one of the static-pod operators whose `cluster` object in
// operator.openshift.io/v1 rolls revisions out to the masters.
type Operator string

// The operators the runbook redeploys (2.4.1, 2.4.2 step 4, 5.3.1 steps 10-12).
const (
	Etcd                  Operator = "etcd"
	KubeAPIServer         Operator = "kubeapiserver"
	KubeControllerManager Operator = "kubecontrollermanager"
	KubeScheduler         Operator = "kubescheduler"
)

// objectName is the name of the single operator object of each kind.
const objectName = names.ClusterResource

func (o Operator) String() string { return string(o) }

// StaticPodOperators returns the four operators in the order the runbook
// redeploys them (5.3.1 steps 10-12): etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler. Each call returns a new slice.
func StaticPodOperators() []Operator {
	return []Operator{Etcd, KubeAPIServer, KubeControllerManager, KubeScheduler}
}

// operatorKinds is the one table of the static pod operators: the typed
// operator.openshift.io/v1 client of each. Everything else in this package
// handles the four kinds alike (clientOf, staticPodOf).
var operatorKinds = map[Operator]func(operatorv1client.OperatorV1Interface) client{
	Etcd:                  func(c operatorv1client.OperatorV1Interface) client { return clientOf(c.Etcds()) },
	KubeAPIServer:         func(c operatorv1client.OperatorV1Interface) client { return clientOf(c.KubeAPIServers()) },
	KubeControllerManager: func(c operatorv1client.OperatorV1Interface) client { return clientOf(c.KubeControllerManagers()) },
	KubeScheduler:         func(c operatorv1client.OperatorV1Interface) client { return clientOf(c.KubeSchedulers()) },
}

// staticPodObject is the part every static-pod operator object shares:
// its metadata and the StaticPodOperatorSpec and StaticPodOperatorStatus
// each kind embeds inline.
type staticPodObject struct {
	metav1.ObjectMeta `json:"metadata"`
	Spec              operatorv1.StaticPodOperatorSpec   `json:"spec"`
	Status            operatorv1.StaticPodOperatorStatus `json:"status"`
}

// staticPodOf reads the shared part of any static pod operator object
// (typed or unstructured) by its JSON fields; false when obj is not a
// named object (a watch's error Status) or its fields do not fit.
func staticPodOf(obj runtime.Object) (staticPodObject, bool) {
	var sp staticPodObject
	if obj == nil {
		return sp, false
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return sp, false
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u, &sp); err != nil || sp.Name == "" {
		return staticPodObject{}, false
	}
	return sp, true
}

// client is the typed access to one operator kind, reduced to what this
// package does with it.
type client struct {
	get   func(ctx context.Context) (runtime.Object, error)
	patch func(ctx context.Context, data []byte) error
	list  func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error)
	watch func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error)
	empty runtime.Object
}

// typedClient is the part of each generated operator.openshift.io/v1
// client (EtcdInterface, KubeAPIServerInterface, ...) this package uses.
type typedClient[T, L runtime.Object] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (T, error)
	List(ctx context.Context, opts metav1.ListOptions) (L, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
}

// clientOf reduces a generated client of objects *O to what this package
// does with the operator's single object: read it, merge-patch it, list
// and watch it.
func clientOf[O any, T interface {
	*O
	runtime.Object
}, L runtime.Object](c typedClient[T, L]) client {
	return client{
		get: func(ctx context.Context) (runtime.Object, error) { return c.Get(ctx, objectName, metav1.GetOptions{}) },
		patch: func(ctx context.Context, d []byte) error {
			_, err := c.Patch(ctx, objectName, types.MergePatchType, d, metav1.PatchOptions{})
			return err
		},
		list:  func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return c.List(ctx, o) },
		watch: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) { return c.Watch(ctx, o) },
		empty: T(new(O)),
	}
}

// clientFor returns the client of target from ops. fn names the exported
// function whose arguments ops and target are ("ForceRedeploy"): a nil
// ops or an unknown target is a *lifeboat.OptionsError naming
// "lifecycle.<fn> ops" or "lifecycle.<fn> target".
func clientFor(fn string, ops operatorclient.Interface, target Operator) (client, error) {
	if ops == nil {
		return client{}, opterr.Nil("lifecycle." + fn + " ops")
	}
	kind, ok := operatorKinds[target]
	if !ok {
		return client{}, opterr.New("lifecycle."+fn+" target", "unknown operator %q (want etcd, kubeapiserver, kubecontrollermanager or kubescheduler)", string(target))
	}
	return kind(ops.OperatorV1()), nil
}
