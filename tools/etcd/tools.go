//go:build tools

// Package tools pins the etcd binaries lifeboat's tests run against.
// hack/tools.sh builds them from this module into a cache outside the repo.
package tools

import (
	_ "go.etcd.io/etcd/etcdctl/v3"
	_ "go.etcd.io/etcd/etcdutl/v3"
	_ "go.etcd.io/etcd/server/v3"
)
