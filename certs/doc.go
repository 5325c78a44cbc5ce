// Package certs reviews and approves the certificate signing requests
// (CSRs) that kubelets file when they join the cluster or when their
// certificates expired, the manual step of runbook chapter 4 (steps 4 and 6,
// "approve each valid CSR") and of section 5.4 ("approve each valid
// node-bootstrapper CSR").
//
// PendingCSRs lists the CSRs nobody decided on yet (no Approved, Denied or
// Failed condition and no certificate). Every pending CSR gets a Decision
// that says whether it was approved, denied or skipped, under which policy,
// and every reason it failed validation (not only the first):
//
//   - Node client CSRs (signer kubernetes.io/kube-apiserver-client-kubelet)
//     must come from the node-bootstrapper service account of
//     openshift-machine-config-operator with exactly its groups, ask for
//     CN system:node:<name> and O system:nodes only, carry no subject
//     alternative name, ask for exactly the kubelet client usages (digital
//     signature and client auth, with or without key encipherment: OpenShift
//     4.5 kubelets add it whatever their key type, and cluster-machine-approver
//     and kube-controller-manager accept both sets), and name
//     a node that a Machine's status addresses name. Two policies allow
//     one: PolicyNewNode (the Machine has no nodeRef yet and the CSR is newer
//     than the Machine) and PolicyExpiredClientCertificate (section 5.4: the
//     Machine's nodeRef is that node, the Node exists and is not Ready
//     because its client certificate expired). Without Machine API
//     (ApproveOptions.UseNodeAddresses) only the second is possible,
//     checked against the Node alone. Either way the Node must have stopped
//     reporting as the node controller sees it (Ready=Unknown and its
//     node.kubernetes.io/unreachable taint): a Ready condition alone is
//     written by the node's own kubelet.
//   - Kubelet serving CSRs (signer kubernetes.io/kubelet-serving) must come
//     from system:node:<name> in group system:nodes, ask for CN equal to the
//     requestor and O system:nodes only, the kubelet serving usages, and
//     every DNS and IP subject alternative name must be an address of that
//     node's Machine (or of the Node when the caller allows it and there is
//     no Machine API). A Node's addresses are written by its own kubelet,
//     so in that mode every name must also pass the cross-checks of Rule,
//     each refusal's reason starting "refused by rule <rule>": not a name
//     or IP of the kubernetes service, of the service or pod network
//     (Network config), of the API server or a platform VIP
//     (Infrastructure config, read through ApproveOptions.Config; without
//     it nothing is approved this way), not an address or name another
//     Node reports, not loopback, link-local or a wildcard.
//   - A CSR for any other signer is never approved; a Denied or Failed CSR is
//     never approved; a CSR whose request is not a PEM certificate request
//     fails with a reason.
//
// ApproveNodeBootstrapperCSRs, ApproveKubeletServingCSRs and
// ApprovePendingCSRs approve what passes through the approval subresource
// with a condition whose reason names lifeboat and the policy, retrying on
// conflicts (the CSR is read and validated again). An already approved CSR
// counts as done. DryRun approves nothing; Deny (off by default) denies the
// CSRs of their kind that fail validation.
//
// A node whose client certificate expired keeps its Ready condition until
// the node controller notices the missing heartbeats (about 40 s on a real
// cluster); a node-bootstrapper CSR filed meanwhile is skipped with the
// reason "node ... is Ready" and approved by a later review (Restart
// reviews on every poll; re-run approve-csrs).
//
// Every review lists the CSRs once, the Machines and Nodes once, and writes
// one approval per approved CSR, Parallel (8) at a time; the client's rate
// limit (rest.Config QPS, 5 by default) bounds it too. On two cores 1,000
// pending CSRs of 500 nodes are reviewed and approved in about 5 s with
// 1,003 API calls (BenchmarkApprovePendingCSRsOnClusterTest).
//
// Errors: lifeboat.ErrInvalidOptions (a *lifeboat.OptionsError naming the
// argument, e.g. "certs.ApproveNodeBootstrapperCSRs kube") for a nil
// client, before any call; ErrMalformedRequest (wrapped) when a CSR's
// request cannot be parsed; API errors are wrapped with the operation and the CSR name. A CSR
// that fails validation is not an error: its Decision carries the reasons.
package certs
