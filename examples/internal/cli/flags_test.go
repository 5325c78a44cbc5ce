package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://api.example.test:6443"}
users:
- name: u
  user: {token: "t"}
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
`

func TestKubeFlagsClients(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		wantErr error // nil: clients built
	}{
		{name: "kubeconfig file", args: []string{"-kubeconfig", path}},
		{name: "missing file", args: []string{"-kubeconfig", path + ".missing"}, wantErr: fs.ErrNotExist},
		{name: "none outside a pod", args: []string{"-kubeconfig", ""}, wantErr: ErrNoKubeconfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("KUBERNETES_SERVICE_HOST", "") // not in a pod
			var k KubeFlags
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			k.Register(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			c, err := k.Clients()
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.REST.Host != "https://api.example.test:6443" || c.Kube == nil || c.Config == nil || c.Operator == nil || c.Machine == nil {
				t.Fatalf("clients = %+v", c)
			}
		})
	}
}

func TestEtcdFlagsPrefix(t *testing.T) {
	for _, prefix := range []string{"", "etcd-"} {
		var e EtcdFlags
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		e.Register(fs, prefix)
		args := []string{"-" + prefix + "endpoints", "https://10.0.0.1:2379", "-" + prefix + "cacert", "ca", "-" + prefix + "cert", "c", "-" + prefix + "key", "k"}
		if err := fs.Parse(args); err != nil {
			t.Fatalf("prefix %q: %v", prefix, err)
		}
		if e != (EtcdFlags{Endpoints: "https://10.0.0.1:2379", CACert: "ca", Cert: "c", Key: "k"}) {
			t.Fatalf("prefix %q: %+v", prefix, e)
		}
	}
}

func TestSSHFlags(t *testing.T) {
	var s SSHFlags
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	s.Register(fs, "")
	if fs.Lookup("user") != nil || s.User != "core" || !strings.HasSuffix(s.Key, "id_ed25519") {
		t.Fatalf("defaults: %+v", s)
	}
	fs = flag.NewFlagSet("x", flag.ContinueOnError)
	s.Register(fs, "ssh-user")
	missing := filepath.Join(t.TempDir(), "known_hosts")
	if err := fs.Parse([]string{"-ssh-user", "admin", "-known-hosts", missing}); err != nil || s.User != "admin" {
		t.Fatalf("parse: %v, %+v", err, s)
	}
	if _, err := s.Dialer(nil); err == nil {
		t.Fatal("Dialer with a missing known_hosts file succeeded")
	}
	if err := os.WriteFile(missing, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	dial, err := s.Dialer(nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := dial(ctx, "master-0", "127.0.0.1:1"); err == nil {
		t.Fatal("dial with a cancelled context succeeded")
	}
}

func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	Logger(&buf, false, slog.LevelWarn).Info("hidden")
	Logger(&buf, true, slog.LevelWarn).Debug("shown")
	if out := buf.String(); strings.Contains(out, "hidden") || !strings.Contains(out, "shown") {
		t.Fatalf("log = %q", out)
	}
}
