// Command lifeboat-tools builds the pinned binaries of lifeboat's tests into
// the cache (package toolchain); hack/tools.sh runs it.
//
//	go run ./internal/toolchain/cmd/lifeboat-tools etcd kube-apiserver
//
// Groups already built are left alone. The exit status is 1 when a build
// fails and 2 for a usage error.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/lifeboat-dev/lifeboat/internal/toolchain"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: lifeboat-tools group...   (groups: etcd, kube-apiserver, weed)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := toolchain.CacheRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var groups []toolchain.Group
	for _, name := range os.Args[1:] {
		g, err := toolchain.Lookup(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		groups = append(groups, g)
	}
	for _, g := range groups {
		if err := g.Build(ctx, root, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
