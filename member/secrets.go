package member

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"
)

// SecretNames returns the names of the peer, serving and serving-metrics
// secrets of node's etcd member in openshift-etcd (runbook 2.4.1 step 2).
func SecretNames(node string) []string {
	return []string{"etcd-peer-" + node, "etcd-serving-" + node, "etcd-serving-metrics-" + node}
}

// DeleteMemberSecrets deletes the etcd-peer-<node>, etcd-serving-<node>
// and etcd-serving-metrics-<node> secrets in openshift-etcd (runbook 2.4.1
// step 2, 2.4.2 step 3), so the etcd operator issues new certificates for
// the member that replaces it. Secrets already gone count as deleted; the
// result lists the ones that existed and were deleted by this call.
//
// A nil kube, and a node that is not a node name (the secrets' names
// would not be valid object names), are a *lifeboat.OptionsError; a
// cancelled ctx stops it before the next deletion, with an error wrapping
// ctx.Err().
func DeleteMemberSecrets(ctx context.Context, kube kubernetes.Interface, node string) ([]string, error) {
	if kube == nil {
		return nil, opterr.Nil("member.DeleteMemberSecrets kube")
	}
	if node == "" {
		return nil, opterr.Nil("member.DeleteMemberSecrets node")
	}
	for _, name := range SecretNames(node) {
		if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
			return nil, opterr.New("member.DeleteMemberSecrets node", "%q is not a node name: %s", node, strings.Join(errs, "; "))
		}
	}
	secrets := kube.CoreV1().Secrets(etcdNamespace)
	var deleted []string
	for _, name := range SecretNames(node) {
		if err := ctx.Err(); err != nil {
			return deleted, fmt.Errorf("member: deleting secret %s/%s: %w", etcdNamespace, name, err)
		}
		err := secrets.Delete(ctx, name, metav1.DeleteOptions{})
		switch {
		case err == nil:
			deleted = append(deleted, name)
		case apierrors.IsNotFound(err):
		default:
			return deleted, fmt.Errorf("member: deleting secret %s/%s: %w", etcdNamespace, name, err)
		}
	}
	return deleted, nil
}
