//go:build tools

// Package tools pins crictl, the CRI command line the real-node tier
// (clustertest/realnode) uses as a host would: lifeboat's "containers are
// gone" step runs "crictl ps --name". hack/tools.sh realnode builds it from
// this module into a cache outside the repo; nothing else needs it.
package tools

import _ "sigs.k8s.io/cri-tools/cmd/crictl"
