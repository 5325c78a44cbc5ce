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

// Valid reports whether o is one of the four known operators.
func (o Operator) Valid() bool {
	switch o {
	case Etcd, KubeAPIServer, KubeControllerManager, KubeScheduler:
		return true
	}
	return false
}

// staticPodObject is the part every static-pod operator object shares.
type staticPodObject struct {
	Name        string
	Annotations map[string]string
	Spec        *operatorv1.StaticPodOperatorSpec
	Status      *operatorv1.StaticPodOperatorStatus
}

func staticPodOf(obj runtime.Object) (staticPodObject, bool) {
	switch o := obj.(type) {
	case *operatorv1.Etcd:
		return staticPodObject{o.Name, o.Annotations, &o.Spec.StaticPodOperatorSpec, &o.Status.StaticPodOperatorStatus}, true
	case *operatorv1.KubeAPIServer:
		return staticPodObject{o.Name, o.Annotations, &o.Spec.StaticPodOperatorSpec, &o.Status.StaticPodOperatorStatus}, true
	case *operatorv1.KubeControllerManager:
		return staticPodObject{o.Name, o.Annotations, &o.Spec.StaticPodOperatorSpec, &o.Status.StaticPodOperatorStatus}, true
	case *operatorv1.KubeScheduler:
		return staticPodObject{o.Name, o.Annotations, &o.Spec.StaticPodOperatorSpec, &o.Status.StaticPodOperatorStatus}, true
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

func clientFor(ops operatorclient.Interface, target Operator) (client, error) {
	if ops == nil {
		return client{}, fmt.Errorf("lifecycle: %s: nil operator client", target)
	}
	v1 := ops.OperatorV1()
	po := metav1.PatchOptions{}
	switch target {
	case Etcd:
		c := v1.Etcds()
		return client{
			get: func(ctx context.Context) (runtime.Object, error) { return c.Get(ctx, ObjectName, metav1.GetOptions{}) },
			patch: func(ctx context.Context, d []byte) error {
				_, err := c.Patch(ctx, ObjectName, types.MergePatchType, d, po)
				return err
			},
			list:  func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return c.List(ctx, o) },
			watch: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) { return c.Watch(ctx, o) },
			empty: &operatorv1.Etcd{},
		}, nil
	case KubeAPIServer:
		c := v1.KubeAPIServers()
		return client{
			get: func(ctx context.Context) (runtime.Object, error) { return c.Get(ctx, ObjectName, metav1.GetOptions{}) },
			patch: func(ctx context.Context, d []byte) error {
				_, err := c.Patch(ctx, ObjectName, types.MergePatchType, d, po)
				return err
			},
			list:  func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return c.List(ctx, o) },
			watch: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) { return c.Watch(ctx, o) },
			empty: &operatorv1.KubeAPIServer{},
		}, nil
	case KubeControllerManager:
		c := v1.KubeControllerManagers()
		return client{
			get: func(ctx context.Context) (runtime.Object, error) { return c.Get(ctx, ObjectName, metav1.GetOptions{}) },
			patch: func(ctx context.Context, d []byte) error {
				_, err := c.Patch(ctx, ObjectName, types.MergePatchType, d, po)
				return err
			},
			list:  func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return c.List(ctx, o) },
			watch: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) { return c.Watch(ctx, o) },
			empty: &operatorv1.KubeControllerManager{},
		}, nil
	case KubeScheduler:
		c := v1.KubeSchedulers()
		return client{
			get: func(ctx context.Context) (runtime.Object, error) { return c.Get(ctx, ObjectName, metav1.GetOptions{}) },
			patch: func(ctx context.Context, d []byte) error {
				_, err := c.Patch(ctx, ObjectName, types.MergePatchType, d, po)
				return err
			},
			list:  func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return c.List(ctx, o) },
			watch: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) { return c.Watch(ctx, o) },
			empty: &operatorv1.KubeScheduler{},
		}, nil
	}
	return client{}, fmt.Errorf("lifecycle: unknown operator %q (want etcd, kubeapiserver, kubecontrollermanager or kubescheduler)", string(target))
}
