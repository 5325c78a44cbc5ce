package toolchain

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

//go:embed modules
var modules embed.FS

// Group is a set of binaries built from one tools module.
type Group struct {
	// Name names the cache directory prefix and, unless ModuleDir is
	// set, the module directory, e.g. "etcd".
	Name string
	// ModuleDir is the directory under modules/ when the group shares
	// another group's module (the kubelet builds from kube-apiserver's).
	ModuleDir string
	// Module is the dependency whose required version names the cache
	// directory, e.g. "go.etcd.io/etcd/server/v3".
	Module string
	// Binaries maps each output file name to the package it is built from.
	Binaries []Binary
	// About is shown while building: how long it takes, once.
	About string
}

// Binary is one executable of a Group.
type Binary struct{ Name, Package string }

// groups are the tool groups this package builds.
var groups = []Group{
	{Name: "etcd", Module: "go.etcd.io/etcd/server/v3", About: "about a minute, once", Binaries: []Binary{
		{"etcd", "go.etcd.io/etcd/server/v3"},
		{"etcdctl", "go.etcd.io/etcd/etcdctl/v3"},
		{"etcdutl", "go.etcd.io/etcd/etcdutl/v3"},
	}},
	{Name: "kube-apiserver", Module: "k8s.io/kubernetes", About: "about 8 minutes on 2 cores, once", Binaries: []Binary{
		{"kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver"},
	}},
	{Name: "kubelet", ModuleDir: "kube-apiserver", Module: "k8s.io/kubernetes", About: "a few minutes on 2 cores once kube-apiserver is built, once", Binaries: []Binary{
		{"kubelet", "k8s.io/kubernetes/cmd/kubelet"},
	}},
	{Name: "crictl", Module: "sigs.k8s.io/cri-tools", About: "about a minute, once", Binaries: []Binary{
		{"crictl", "sigs.k8s.io/cri-tools/cmd/crictl"},
	}},
	{Name: "weed", Module: "github.com/seaweedfs/seaweedfs", About: "about 19 CPU-minutes: 10 minutes on an idle 2-core machine, once", Binaries: []Binary{
		{"weed", "github.com/seaweedfs/seaweedfs/weed"},
	}},
}

// ErrUnknownGroup is returned for a group name this package does not build.
var ErrUnknownGroup = errors.New("toolchain: unknown tool group")

// Lookup returns the group named name.
func Lookup(name string) (Group, error) {
	for _, g := range groups {
		if g.Name == name {
			return g, nil
		}
	}
	return Group{}, fmt.Errorf("%w %q", ErrUnknownGroup, name)
}

// Version is the version of g.Module its tools module requires, e.g.
// "v3.7.3".
func (g Group) Version() (string, error) {
	data, err := modules.ReadFile("modules/" + g.moduleDir() + "/go.mod.txt")
	if err != nil {
		return "", fmt.Errorf("toolchain: %s: %w", g.Name, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "require" {
			f = f[1:]
		}
		if len(f) >= 2 && f[0] == g.Module {
			return f[1], nil
		}
	}
	return "", fmt.Errorf("toolchain: %s: go.mod requires no %s", g.Name, g.Module)
}

func (g Group) moduleDir() string {
	if g.ModuleDir != "" {
		return g.ModuleDir
	}
	return g.Name
}

// Dir is where g's binaries live in the cache: <root>/bin/<name>-<version>.
func (g Group) Dir(root string) (string, error) {
	v, err := g.Version()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "bin", g.Name+"-"+v), nil
}

// CacheRoot is ${LIFEBOAT_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/lifeboat}.
func CacheRoot() (string, error) {
	if d := os.Getenv("LIFEBOAT_CACHE_DIR"); d != "" {
		return d, nil
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("toolchain: locating the cache: %w", err)
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "lifeboat"), nil
}

// Built reports whether every binary of g is in the cache under root.
func (g Group) Built(root string) bool {
	dir, err := g.Dir(root)
	if err != nil {
		return false
	}
	for _, b := range g.Binaries {
		if fi, err := os.Stat(filepath.Join(dir, b.Name)); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}

// Build builds g's binaries into the cache under root unless they are
// there already, writing the go command's output and a line saying what it
// builds to w (nil discards). It needs the go command on PATH and the module
// proxy (or a module cache holding every module of g's go.sum). ctx bounds
// the build; a cancelled build leaves the cache as it was.
func (g Group) Build(ctx context.Context, root string, w io.Writer) error {
	if w == nil {
		w = io.Discard
	}
	dir, err := g.Dir(root)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("toolchain: %s: %w", g.Name, err)
	}
	unlock, err := lock(ctx, filepath.Join(filepath.Dir(dir), "."+g.Name+".lock"))
	if err != nil {
		return fmt.Errorf("toolchain: %s: %w", g.Name, err)
	}
	defer unlock()
	if g.Built(root) { // another process built it while we waited
		return nil
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("toolchain: building %s needs the go command: %w", g.Name, err)
	}
	mod, err := os.MkdirTemp("", "lifeboat-tools-"+g.Name+"-")
	if err != nil {
		return fmt.Errorf("toolchain: %s: %w", g.Name, err)
	}
	defer os.RemoveAll(mod)
	for _, f := range []string{"go.mod", "go.sum", "tools.go"} {
		data, err := modules.ReadFile("modules/" + g.moduleDir() + "/" + f + ".txt")
		if err != nil {
			return fmt.Errorf("toolchain: %s: %w", g.Name, err)
		}
		if err := os.WriteFile(filepath.Join(mod, f), data, 0o644); err != nil {
			return fmt.Errorf("toolchain: %s: %w", g.Name, err)
		}
	}
	v, _ := g.Version()
	fmt.Fprintf(w, "lifeboat: building %s %s into %s (%s)\n", g.Name, v, dir, g.About)
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("toolchain: %s: %w", g.Name, err)
	}
	defer os.RemoveAll(tmp)
	for _, b := range g.Binaries {
		cmd := exec.CommandContext(ctx, goCmd, "build", "-trimpath", "-o", filepath.Join(tmp, b.Name), b.Package)
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
		cmd.Stdout, cmd.Stderr = w, w
		if err := cmd.Run(); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("toolchain: building %s: %w", b.Name, ctx.Err())
			}
			return fmt.Errorf("toolchain: building %s (go build %s): %w", b.Name, b.Package, err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("toolchain: %s: %w", g.Name, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("toolchain: %s: %w", g.Name, err)
	}
	return nil
}

// lock takes an exclusive lock on path, polling so that ctx can end the
// wait, and returns its release.
func lock(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for another build (lock %s): %w", path, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}
