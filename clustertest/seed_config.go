package clustertest

import (
	"context"
	"fmt"
	"math/big"
	"os"
	"strings"
	"time"

	configv1 "github.com/openshift/api/config/v1"
	operatorv1 "github.com/openshift/api/operator/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// seedEtcdClientObjects creates the etcd client certificate secret and the
// CA bundle an administrator's tooling reads (openshift-etcd and
// openshift-config).
func (c *Cluster) seedEtcdClientObjects(ctx context.Context) error {
	crt, err := os.ReadFile(c.etcdTLS.CertFile)
	if err != nil {
		return err
	}
	key, err := os.ReadFile(c.etcdTLS.KeyFile)
	if err != nil {
		return err
	}
	ca := c.PKI.CAPEM()
	for _, ns := range []string{nsEtcd, nsConfig} {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "etcd-client", Namespace: ns},
			Type:       corev1.SecretTypeTLS,
			Data:       map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key},
		}
		if _, err := c.Kube.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("clustertest: creating secret %s/etcd-client: %w", ns, err)
		}
		for _, name := range []string{"etcd-serving-ca", "etcd-ca-bundle"} {
			cm := &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
				Data:       map[string]string{"ca-bundle.crt": string(ca)},
			}
			if _, err := c.Kube.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("clustertest: creating configmap %s/%s: %w", ns, name, err)
			}
		}
	}
	return nil
}

// staticPodConditions are the conditions of a static pod operator with
// every node at revision.
func staticPodConditions(component string, n, revision int, t metav1.Time) []operatorv1.OperatorCondition {
	cond := func(typ string, st operatorv1.ConditionStatus, reason, msg string) operatorv1.OperatorCondition {
		return operatorv1.OperatorCondition{Type: typ, Status: st, Reason: reason, Message: msg, LastTransitionTime: t}
	}
	conds := []operatorv1.OperatorCondition{
		cond("NodeInstallerProgressing", operatorv1.ConditionFalse, "AllNodesAtLatestRevision", fmt.Sprintf("%d nodes are at revision %d", n, revision)),
		cond("NodeInstallerDegraded", operatorv1.ConditionFalse, "", ""),
		cond("StaticPodsAvailable", operatorv1.ConditionTrue, "AsExpected", fmt.Sprintf("%d nodes are active; %d nodes are at revision %d", n, n, revision)),
		cond("StaticPodsDegraded", operatorv1.ConditionFalse, "AsExpected", ""),
		cond("InstallerControllerDegraded", operatorv1.ConditionFalse, "AsExpected", ""),
		cond("RevisionControllerDegraded", operatorv1.ConditionFalse, "AsExpected", ""),
	}
	if component == componentEtcd {
		conds = append(conds,
			cond("EtcdMembersAvailable", operatorv1.ConditionTrue, "EtcdQuorate", fmt.Sprintf("%d members are available", n)),
			cond("EtcdMembersDegraded", operatorv1.ConditionFalse, "AsExpected", "No unhealthy members found"),
			cond("EtcdMembersProgressing", operatorv1.ConditionFalse, "AsExpected", "No unstarted etcd members found"),
		)
	}
	return conds
}

func (c *Cluster) staticPodStatus(component string, plan []nodePlan, t metav1.Time) operatorv1.StaticPodOperatorStatus {
	rev := initialRevisions[component]
	var nodes []operatorv1.NodeStatus
	for _, p := range plan {
		if p.role == roleMaster {
			nodes = append(nodes, operatorv1.NodeStatus{NodeName: p.name, CurrentRevision: int32(rev)})
		}
	}
	return operatorv1.StaticPodOperatorStatus{
		OperatorStatus: operatorv1.OperatorStatus{
			ObservedGeneration:      1,
			Conditions:              staticPodConditions(component, len(nodes), rev, t),
			ReadyReplicas:           0,
			LatestAvailableRevision: int32(rev),
		},
		LatestAvailableRevisionReason: "",
		NodeStatuses:                  nodes,
	}
}

func staticPodSpec() operatorv1.StaticPodOperatorSpec {
	return operatorv1.StaticPodOperatorSpec{OperatorSpec: operatorv1.OperatorSpec{
		ManagementState:  operatorv1.Managed,
		LogLevel:         operatorv1.Normal,
		OperatorLogLevel: operatorv1.Normal,
	}}
}

// seedStaticPodOperators creates the cluster Etcd, KubeAPIServer,
// KubeControllerManager and KubeScheduler with every master at its
// component's initial revision.
func (c *Cluster) seedStaticPodOperators(ctx context.Context, plan []nodePlan) error {
	t := metav1.NewTime(time.Now().Add(-5 * time.Hour).Truncate(time.Second))
	ops := c.Operator.OperatorV1()
	meta := metav1.ObjectMeta{Name: "cluster"}
	spec := staticPodSpec()
	return parallel(len(staticPodComponents), func(i int) error {
		comp := staticPodComponents[i]
		status := c.staticPodStatus(comp, plan, t)
		var err error
		switch comp {
		case componentEtcd:
			err = seedStatus(ctx, ops.Etcds(), &operatorv1.Etcd{ObjectMeta: meta, Spec: operatorv1.EtcdSpec{StaticPodOperatorSpec: spec}},
				func(o *operatorv1.Etcd) *operatorv1.StaticPodOperatorStatus { return &o.Status.StaticPodOperatorStatus }, status)
		case componentKubeAPIServer:
			err = seedStatus(ctx, ops.KubeAPIServers(), &operatorv1.KubeAPIServer{ObjectMeta: meta, Spec: operatorv1.KubeAPIServerSpec{StaticPodOperatorSpec: spec}},
				func(o *operatorv1.KubeAPIServer) *operatorv1.StaticPodOperatorStatus {
					return &o.Status.StaticPodOperatorStatus
				}, status)
		case componentKubeControllerManager:
			err = seedStatus(ctx, ops.KubeControllerManagers(), &operatorv1.KubeControllerManager{ObjectMeta: meta, Spec: operatorv1.KubeControllerManagerSpec{StaticPodOperatorSpec: spec}},
				func(o *operatorv1.KubeControllerManager) *operatorv1.StaticPodOperatorStatus {
					return &o.Status.StaticPodOperatorStatus
				}, status)
		case componentKubeScheduler:
			err = seedStatus(ctx, ops.KubeSchedulers(), &operatorv1.KubeScheduler{ObjectMeta: meta, Spec: operatorv1.KubeSchedulerSpec{StaticPodOperatorSpec: spec}},
				func(o *operatorv1.KubeScheduler) *operatorv1.StaticPodOperatorStatus {
					return &o.Status.StaticPodOperatorStatus
				}, status)
		}
		if err != nil {
			return fmt.Errorf("clustertest: seeding %s operator: %w", comp, err)
		}
		return nil
	})
}

// staticPodClient is the part of a generated operator client seedStatus uses.
type staticPodClient[T any] interface {
	Create(ctx context.Context, o T, opts metav1.CreateOptions) (T, error)
	UpdateStatus(ctx context.Context, o T, opts metav1.UpdateOptions) (T, error)
}

// seedStatus creates obj and writes status into it in two steps, as the
// installer controller does: the CRD refuses a nodeStatus that appears with
// its currentRevision already set.
func seedStatus[T any](ctx context.Context, api staticPodClient[T], obj T, st func(T) *operatorv1.StaticPodOperatorStatus, want operatorv1.StaticPodOperatorStatus) error {
	o, err := api.Create(ctx, obj, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	first := want
	first.NodeStatuses = nil
	for _, ns := range want.NodeStatuses {
		first.NodeStatuses = append(first.NodeStatuses, operatorv1.NodeStatus{NodeName: ns.NodeName})
	}
	*st(o) = first
	if o, err = api.UpdateStatus(ctx, o, metav1.UpdateOptions{}); err != nil {
		return err
	}
	*st(o) = want
	_, err = api.UpdateStatus(ctx, o, metav1.UpdateOptions{})
	return err
}

func (c *Cluster) releaseImage() string {
	return "quay.io/openshift-release-dev/ocp-release@sha256:" + fmt.Sprintf("%064x", new(big.Int).SetBytes([]byte(c.opts.ClusterVersion)))
}

func clusterOperatorConditions(version string, t metav1.Time) []configv1.ClusterOperatorStatusCondition {
	return []configv1.ClusterOperatorStatusCondition{
		{Type: configv1.OperatorAvailable, Status: configv1.ConditionTrue, Reason: "AsExpected", LastTransitionTime: t},
		{Type: configv1.OperatorProgressing, Status: configv1.ConditionFalse, Reason: "AsExpected", LastTransitionTime: t},
		{Type: configv1.OperatorDegraded, Status: configv1.ConditionFalse, Reason: "AsExpected", LastTransitionTime: t},
		{Type: configv1.OperatorUpgradeable, Status: configv1.ConditionTrue, Reason: "AsExpected", LastTransitionTime: t},
	}
}

func (c *Cluster) seedClusterOperator(ctx context.Context, name string, t metav1.Time) error {
	api := c.Config.ConfigV1().ClusterOperators()
	co, err := api.Create(ctx, &configv1.ClusterOperator{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("clustertest: creating clusteroperator %s: %w", name, err)
	}
	co.Status = configv1.ClusterOperatorStatus{
		Conditions: clusterOperatorConditions(c.opts.ClusterVersion, t),
		Versions:   []configv1.OperandVersion{{Name: "operator", Version: c.opts.ClusterVersion}},
	}
	switch name {
	case "etcd":
		co.Status.Versions = append(co.Status.Versions, configv1.OperandVersion{Name: "etcd", Version: c.opts.ClusterVersion})
	case "kube-apiserver", "kube-controller-manager", "kube-scheduler":
		co.Status.Versions = append(co.Status.Versions, configv1.OperandVersion{Name: name, Version: strings.TrimPrefix(seedKubeletVer, "v")})
	}
	if _, err := api.UpdateStatus(ctx, co, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("clustertest: clusteroperator %s status: %w", name, err)
	}
	return nil
}

func (c *Cluster) seedClusterVersion(ctx context.Context, installed metav1.Time) error {
	api := c.Config.ConfigV1().ClusterVersions()
	cv, err := api.Create(ctx, &configv1.ClusterVersion{
		ObjectMeta: metav1.ObjectMeta{Name: "version"},
		Spec: configv1.ClusterVersionSpec{
			ClusterID: configv1.ClusterID(newUUID()),
			Channel:   "stable-" + minorOf(c.opts.ClusterVersion),
			Upstream:  "https://api.openshift.com/api/upgrades_info/v1/graph",
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("clustertest: creating clusterversion: %w", err)
	}
	done := metav1.NewTime(installed.Add(35 * time.Minute))
	v, image := c.opts.ClusterVersion, c.releaseImage()
	cv.Status = configv1.ClusterVersionStatus{
		Desired:            configv1.Release{Version: v, Image: image},
		History:            []configv1.UpdateHistory{{State: configv1.CompletedUpdate, StartedTime: installed, CompletionTime: &done, Version: v, Image: image, Verified: false}},
		ObservedGeneration: cv.Generation,
		VersionHash:        "wLZ2jBSX0Tk=",
		AvailableUpdates:   nil,
		Conditions: []configv1.ClusterOperatorStatusCondition{
			{Type: configv1.OperatorAvailable, Status: configv1.ConditionTrue, LastTransitionTime: done, Message: "Done applying " + v},
			{Type: configv1.OperatorDegraded, Status: configv1.ConditionFalse, LastTransitionTime: done},
			{Type: configv1.OperatorProgressing, Status: configv1.ConditionFalse, LastTransitionTime: done, Message: "Cluster version is " + v},
			{Type: configv1.RetrievedUpdates, Status: configv1.ConditionFalse, LastTransitionTime: done, Reason: "RemoteFailed", Message: "Unable to retrieve available updates"},
		},
	}
	if _, err := api.UpdateStatus(ctx, cv, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("clustertest: clusterversion status: %w", err)
	}
	return nil
}

// seedConfigObjects creates the Proxy and the APIServer "cluster".
func (c *Cluster) seedConfigObjects(ctx context.Context) error {
	cfg := c.Config.ConfigV1()
	px, err := cfg.Proxies().Create(ctx, &configv1.Proxy{ObjectMeta: metav1.ObjectMeta{Name: "cluster"}, Spec: c.opts.Proxy}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("clustertest: creating proxy/cluster: %w", err)
	}
	if sp := c.opts.Proxy; sp.HTTPProxy != "" || sp.HTTPSProxy != "" {
		noProxy := []string{".cluster.local", ".svc", ".ec2.internal", "10.0.0.0/16", "10.128.0.0/14", "127.0.0.1", serviceNetwork,
			"api-int." + c.domain, "etcd-0." + c.domain, "localhost"}
		if sp.NoProxy != "" {
			noProxy = append(noProxy, strings.Split(sp.NoProxy, ",")...)
		}
		px.Status = configv1.ProxyStatus{HTTPProxy: sp.HTTPProxy, HTTPSProxy: sp.HTTPSProxy, NoProxy: strings.Join(noProxy, ",")}
		if _, err := cfg.Proxies().UpdateStatus(ctx, px, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("clustertest: proxy/cluster status: %w", err)
		}
	}
	_, err = cfg.APIServers().Create(ctx, &configv1.APIServer{
		ObjectMeta: metav1.ObjectMeta{Name: "cluster"},
		Spec:       configv1.APIServerSpec{Audit: configv1.Audit{Profile: configv1.DefaultAuditProfileType}},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("clustertest: creating apiserver/cluster: %w", err)
	}
	return nil
}
