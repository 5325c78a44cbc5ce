package lifecycle

import (
	"context"
	"fmt"

	operatorv1 "github.com/openshift/api/operator/v1"
	operatorclient "github.com/openshift/client-go/operator/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
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

// ObjectName is the name of the single operator object of each kind.
const ObjectName = "cluster"

func (o Operator) String() string { return string(o) }

// staticPodObject is the part every static-pod operator object shares.
type staticPodObject struct {
	Name            string
	ResourceVersion string
	Annotations     map[string]string
	Spec            *operatorv1.StaticPodOperatorSpec
	Status          *operatorv1.StaticPodOperatorStatus
}

func staticPodOf(obj runtime.Object) (staticPodObject, bool) {
	switch o := obj.(type) {
	case *operatorv1.Etcd:
		return staticPodObject{o.Name, o.ResourceVersion, o.Annotations, &o.Spec.StaticPodOperatorSpec, &o.Status.StaticPodOperatorStatus}, true
	case *operatorv1.KubeAPIServer:
		return staticPodObject{o.Name, o.ResourceVersion, o.Annotations, &o.Spec.StaticPodOperatorSpec, &o.Status.StaticPodOperatorStatus}, true
	case *operatorv1.KubeControllerManager:
		return staticPodObject{o.Name, o.ResourceVersion, o.Annotations, &o.Spec.StaticPodOperatorSpec, &o.Status.StaticPodOperatorStatus}, true
	case *operatorv1.KubeScheduler:
		return staticPodObject{o.Name, o.ResourceVersion, o.Annotations, &o.Spec.StaticPodOperatorSpec, &o.Status.StaticPodOperatorStatus}, true
	}
	return staticPodObject{}, false
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

// clientOf reduces a generated client to what this package does with the
// operator's single object: read it, merge-patch it, list and watch it.
func clientOf[T, L runtime.Object](c typedClient[T, L], empty T) client {
	return client{
		get: func(ctx context.Context) (runtime.Object, error) { return c.Get(ctx, ObjectName, metav1.GetOptions{}) },
		patch: func(ctx context.Context, d []byte) error {
			_, err := c.Patch(ctx, ObjectName, types.MergePatchType, d, metav1.PatchOptions{})
			return err
		},
		list:  func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return c.List(ctx, o) },
		watch: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) { return c.Watch(ctx, o) },
		empty: empty,
	}
}

func clientFor(ops operatorclient.Interface, target Operator) (client, error) {
	if ops == nil {
		return client{}, fmt.Errorf("lifecycle: %s: nil operator client", target)
	}
	v1 := ops.OperatorV1()
	switch target {
	case Etcd:
		return clientOf(v1.Etcds(), &operatorv1.Etcd{}), nil
	case KubeAPIServer:
		return clientOf(v1.KubeAPIServers(), &operatorv1.KubeAPIServer{}), nil
	case KubeControllerManager:
		return clientOf(v1.KubeControllerManagers(), &operatorv1.KubeControllerManager{}), nil
	case KubeScheduler:
		return clientOf(v1.KubeSchedulers(), &operatorv1.KubeScheduler{}), nil
	}
	return client{}, fmt.Errorf("lifecycle: unknown operator %q (want etcd, kubeapiserver, kubecontrollermanager or kubescheduler)", string(target))
}
