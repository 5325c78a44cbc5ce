// Package toolchain builds the pinned binaries lifeboat's tests run against
// (etcd, etcdctl and etcdutl; kube-apiserver; SeaweedFS's weed) from tools
// modules embedded in this package, into a cache directory named by
// version, so that clustertest can locate or build them from any module and
// hack/tools.sh builds them the same way.
//
// Each tool group is its own Go module under modules/<group>/ (go.mod.txt,
// go.sum.txt and tools.go.txt: the suffix keeps the go command from taking
// them for nested modules of lifeboat). Build writes one to a temporary
// directory, runs "go build -trimpath" there with GOFLAGS=-mod=mod and
// GOWORK=off, and renames the result into <cache>/bin/<group>-<version>. A
// lock file per group lets concurrent test processes build once.
//
// To change a pinned version, edit modules/<group>/go.mod.txt (as go.mod in a
// scratch copy, with go get and go mod tidy) and copy go.mod and go.sum back.
package toolchain
