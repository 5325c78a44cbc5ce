package etcdconn_test

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/clustertest"
	"github.com/lifeboat-dev/lifeboat/etcdconn"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// testFiles issues files for the configuration tests: a good pair, a second
// pair (for a mismatched key), an expired pair, and junk files.
type testFiles struct {
	ca, cert, key, otherKey, expiredCert, expiredKey, notPEM, badPEM, missing string
}

func newTestFiles(t *testing.T) testFiles {
	t.Helper()
	dir := t.TempDir()
	pki, err := clustertest.NewPKI(filepath.Join(dir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	good, err := pki.Issue("client", clustertest.CertOptions{Client: true})
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.Issue("other", clustertest.CertOptions{Client: true})
	if err != nil {
		t.Fatal(err)
	}
	expired, err := pki.Issue("expired", clustertest.CertOptions{Client: true, NotAfter: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	f := testFiles{
		ca: good.CAFile, cert: good.CertFile, key: good.KeyFile, otherKey: other.KeyFile,
		expiredCert: expired.CertFile, expiredKey: expired.KeyFile,
		notPEM:  filepath.Join(dir, "not.pem"),
		badPEM:  filepath.Join(dir, "bad.pem"),
		missing: filepath.Join(dir, "missing.crt"),
	}
	if err := os.WriteFile(f.notPEM, []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.badPEM, []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestNewConfigErrors(t *testing.T) {
	f := newTestFiles(t)
	ep := []string{"https://127.0.0.1:1"}
	tests := []struct {
		name    string
		cfg     etcdconn.Config
		kind    error
		also    error  // another error the chain must hold
		setting string // ConfigError.Setting
		mention string // must appear in the message
	}{
		{name: "missing CA", cfg: etcdconn.Config{Endpoints: ep, CAFile: f.missing}, kind: etcdconn.ErrCA, also: fs.ErrNotExist, setting: "Config.CAFile", mention: f.missing},
		{name: "CA not PEM", cfg: etcdconn.Config{Endpoints: ep, CAFile: f.notPEM}, kind: etcdconn.ErrCA, setting: "Config.CAFile", mention: "no PEM CERTIFICATE"},
		{name: "CA corrupt", cfg: etcdconn.Config{Endpoints: ep, CAFile: f.badPEM}, kind: etcdconn.ErrCA, setting: "Config.CAFile", mention: f.badPEM},
		{name: "cert without key", cfg: etcdconn.Config{Endpoints: ep, CAFile: f.ca, CertFile: f.cert}, kind: etcdconn.ErrKeyPair, setting: "Config.KeyFile"},
		{name: "key without cert", cfg: etcdconn.Config{Endpoints: ep, CAFile: f.ca, KeyFile: f.key}, kind: etcdconn.ErrKeyPair, setting: "Config.CertFile"},
		{name: "missing cert", cfg: etcdconn.Config{Endpoints: ep, CertFile: f.missing, KeyFile: f.key}, kind: etcdconn.ErrKeyPair, also: fs.ErrNotExist, setting: "Config.CertFile", mention: f.missing},
		{name: "missing key", cfg: etcdconn.Config{Endpoints: ep, CertFile: f.cert, KeyFile: f.missing}, kind: etcdconn.ErrKeyPair, also: fs.ErrNotExist, setting: "Config.KeyFile", mention: f.missing},
		{name: "key does not match cert", cfg: etcdconn.Config{Endpoints: ep, CAFile: f.ca, CertFile: f.cert, KeyFile: f.otherKey}, kind: etcdconn.ErrKeyPair, setting: "Config.CertFile and Config.KeyFile", mention: "does not match"},
		{name: "expired cert", cfg: etcdconn.Config{Endpoints: ep, CAFile: f.ca, CertFile: f.expiredCert, KeyFile: f.expiredKey}, kind: etcdconn.ErrKeyPair, setting: "Config.CertFile", mention: "expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cli, err := etcdconn.New(t.Context(), tt.cfg)
			if err == nil {
				cli.Close()
				t.Fatal("New succeeded")
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("err = %v, want %v", err, tt.kind)
			}
			if tt.also != nil && !errors.Is(err, tt.also) {
				t.Errorf("err = %v, want it to wrap %v", err, tt.also)
			}
			var ce *etcdconn.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err %T is not a *ConfigError", err)
			}
			if ce.Setting != tt.setting {
				t.Errorf("Setting = %q, want %q", ce.Setting, tt.setting)
			}
			if !strings.Contains(err.Error(), tt.setting) || !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("message %q does not name %q and %q", err, tt.setting, tt.mention)
			}
		})
	}
}

// TestNewRefusesOptions: settings wrong in themselves (none given, a
// negative timeout) are the one invalid-options kind of every package,
// a *lifeboat.OptionsError naming the Config field, refused before any
// file is read or endpoint dialled; no endpoints also matches the more
// precise ErrNoEndpoints.
func TestNewRefusesOptions(t *testing.T) {
	ep := []string{"https://127.0.0.1:1"}
	for _, tt := range []struct {
		name   string
		cfg    etcdconn.Config
		option string
		also   error
	}{
		{name: "no endpoints", cfg: etcdconn.Config{CAFile: "/nonexistent/ca"}, option: "etcdconn.Config.Endpoints", also: etcdconn.ErrNoEndpoints},
		{name: "blank endpoints", cfg: etcdconn.Config{Endpoints: []string{" ", ","}}, option: "etcdconn.Config.Endpoints", also: etcdconn.ErrNoEndpoints},
		{name: "negative dial timeout", cfg: etcdconn.Config{Endpoints: ep, DialTimeout: -time.Second}, option: "etcdconn.Config.DialTimeout"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cli, err := etcdconn.New(t.Context(), tt.cfg)
			if err == nil {
				cli.Close()
				t.Fatal("New succeeded")
			}
			var oe *lifeboat.OptionsError
			if !errors.Is(err, lifeboat.ErrInvalidOptions) || !errors.As(err, &oe) || oe.Option != tt.option {
				t.Fatalf("err = %v, want a *lifeboat.OptionsError for %s", err, tt.option)
			}
			if tt.also != nil && !errors.Is(err, tt.also) {
				t.Errorf("err = %v, want it to match %v too", err, tt.also)
			}
			var ce *etcdconn.ConfigError
			if errors.As(err, &ce) {
				t.Errorf("err = %v is also a *ConfigError: one kind per failure", err)
			}
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    etcdconn.Config
		wantErr error
	}{
		{
			name: "all set",
			env: map[string]string{
				"ETCDCTL_ENDPOINTS": "https://10.0.0.1:2379, https://10.0.0.2:2379,,https://10.0.0.3:2379 ",
				"ETCDCTL_CACERT":    "/ca.crt", "ETCDCTL_CERT": "/peer.crt", "ETCDCTL_KEY": "/peer.key",
				"ETCDCTL_DIAL_TIMEOUT": "7s",
			},
			want: etcdconn.Config{
				Endpoints: []string{"https://10.0.0.1:2379", "https://10.0.0.2:2379", "https://10.0.0.3:2379"},
				CAFile:    "/ca.crt", CertFile: "/peer.crt", KeyFile: "/peer.key", DialTimeout: 7 * time.Second,
			},
		},
		{name: "nothing set", env: map[string]string{}, want: etcdconn.Config{}},
		{name: "bad dial timeout", env: map[string]string{"ETCDCTL_DIAL_TIMEOUT": "soon"}, wantErr: lifeboat.ErrInvalidOptions},
		{name: "zero dial timeout", env: map[string]string{"ETCDCTL_DIAL_TIMEOUT": "0s"}, wantErr: lifeboat.ErrInvalidOptions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"ETCDCTL_ENDPOINTS", "ETCDCTL_CACERT", "ETCDCTL_CERT", "ETCDCTL_KEY", "ETCDCTL_DIAL_TIMEOUT"} {
				t.Setenv(k, tt.env[k])
			}
			got, err := etcdconn.ConfigFromEnv()
			if tt.wantErr != nil {
				var oe *lifeboat.OptionsError
				if !errors.Is(err, tt.wantErr) || !errors.As(err, &oe) || oe.Option != "ETCDCTL_DIAL_TIMEOUT" {
					t.Fatalf("err = %v, want a *lifeboat.OptionsError for ETCDCTL_DIAL_TIMEOUT", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got.Endpoints, "|") != strings.Join(tt.want.Endpoints, "|") ||
				got.CAFile != tt.want.CAFile || got.CertFile != tt.want.CertFile || got.KeyFile != tt.want.KeyFile ||
				got.DialTimeout != tt.want.DialTimeout {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestFromEnvErrorsNameVariables(t *testing.T) {
	f := newTestFiles(t)
	tests := []struct {
		name    string
		env     map[string]string
		kind    error
		mention string
	}{
		{name: "endpoints unset", env: map[string]string{"ETCDCTL_CACERT": f.ca}, kind: lifeboat.ErrInvalidOptions, mention: "ETCDCTL_ENDPOINTS"},
		{name: "CA missing", env: map[string]string{"ETCDCTL_ENDPOINTS": "https://127.0.0.1:1", "ETCDCTL_CACERT": f.missing}, kind: etcdconn.ErrCA, mention: "ETCDCTL_CACERT (" + f.missing + ")"},
		{name: "key missing", env: map[string]string{"ETCDCTL_ENDPOINTS": "https://127.0.0.1:1", "ETCDCTL_CERT": f.cert}, kind: etcdconn.ErrKeyPair, mention: "ETCDCTL_KEY"},
		{
			name: "mismatch",
			env:  map[string]string{"ETCDCTL_ENDPOINTS": "https://127.0.0.1:1", "ETCDCTL_CERT": f.cert, "ETCDCTL_KEY": f.otherKey},
			kind: etcdconn.ErrKeyPair, mention: "ETCDCTL_CERT and ETCDCTL_KEY",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"ETCDCTL_ENDPOINTS", "ETCDCTL_CACERT", "ETCDCTL_CERT", "ETCDCTL_KEY", "ETCDCTL_DIAL_TIMEOUT"} {
				t.Setenv(k, tt.env[k])
			}
			cli, err := etcdconn.FromEnv(t.Context())
			if err == nil {
				cli.Close()
				t.Fatal("FromEnv succeeded")
			}
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.mention) {
				t.Fatalf("err = %v, want %v mentioning %q", err, tt.kind, tt.mention)
			}
		})
	}
}

// deadEndpoint returns an https URL on which nothing listens.
func deadEndpoint(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return "https://127.0.0.1:" + strconv.Itoa(port)
}

func roundTrip(t *testing.T, cli *clientv3.Client, key string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, key, "v"); err != nil {
		t.Fatalf("put: %v", err)
	}
	resp, err := cli.Get(ctx, key)
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v" {
		t.Fatalf("get: %v %v", resp, err)
	}
}

func TestAgainstCluster(t *testing.T) {
	cluster := clustertest.StartEtcd(t, clustertest.EtcdOptions{})
	files := cluster.ClientTLS()
	good := etcdconn.Config{Endpoints: cluster.Endpoints(), CAFile: files.CAFile, CertFile: files.CertFile, KeyFile: files.KeyFile}

	// A second CA and a client certificate from it.
	foreign, err := clustertest.NewPKI(filepath.Join(t.TempDir(), "foreign"))
	if err != nil {
		t.Fatal(err)
	}
	foreignClient, err := foreign.Issue("client", clustertest.CertOptions{Client: true})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("New with TLS files", func(t *testing.T) {
		cli, err := etcdconn.New(t.Context(), good)
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		roundTrip(t, cli, "/etcdconn/new")
	})

	t.Run("FromEnv", func(t *testing.T) {
		t.Setenv("ETCDCTL_ENDPOINTS", strings.Join(cluster.Endpoints(), ","))
		t.Setenv("ETCDCTL_CACERT", files.CAFile)
		t.Setenv("ETCDCTL_CERT", files.CertFile)
		t.Setenv("ETCDCTL_KEY", files.KeyFile)
		t.Setenv("ETCDCTL_DIAL_TIMEOUT", "10s")
		cli, err := etcdconn.FromEnv(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		roundTrip(t, cli, "/etcdconn/env")
		if got := len(cli.Endpoints()); got != 3 {
			t.Errorf("client has %d endpoints, want 3", got)
		}
	})

	t.Run("one endpoint dead", func(t *testing.T) {
		cfg := good
		cfg.Endpoints = []string{deadEndpoint(t), cluster.Members[0].ClientURL}
		cli, err := etcdconn.New(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		roundTrip(t, cli, "/etcdconn/one-dead")
	})

	// The check logs each answer on a goroutine New starts: a panic of
	// the caller's log handler there is New's error, not a crash.
	t.Run("a logger that panics", func(t *testing.T) {
		cfg := good
		cfg.Logger = slog.New(panicHandler{})
		cli, err := etcdconn.New(t.Context(), cfg)
		var pe *lifeboat.PanicError
		if !errors.Is(err, lifeboat.ErrPanicked) || !errors.As(err, &pe) || pe.Value != "log sink broke" {
			if cli != nil {
				cli.Close()
			}
			t.Fatalf("New = %v, want the log handler's panic", err)
		}
	})

	failures := []struct {
		name    string
		cfg     func() etcdconn.Config
		kind    error
		mention string
	}{
		{
			name:    "wrong CA",
			cfg:     func() etcdconn.Config { c := good; c.CAFile = foreign.CAFile(); return c },
			kind:    etcdconn.ErrServerUntrusted,
			mention: "not trusted",
		},
		{
			name: "client cert from another CA",
			cfg: func() etcdconn.Config {
				c := good
				c.CertFile, c.KeyFile = foreignClient.CertFile, foreignClient.KeyFile
				return c
			},
			kind:    etcdconn.ErrClientRejected,
			mention: "rejected",
		},
		{
			name:    "no client cert",
			cfg:     func() etcdconn.Config { c := good; c.CertFile, c.KeyFile = "", ""; return c },
			kind:    etcdconn.ErrClientRejected,
			mention: "rejected",
		},
		{
			name:    "nothing listening",
			cfg:     func() etcdconn.Config { c := good; c.Endpoints = []string{deadEndpoint(t)}; return c },
			kind:    etcdconn.ErrUnreachable,
			mention: "no etcd endpoint reachable",
		},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg()
			cfg.DialTimeout = 2 * time.Second
			start := time.Now()
			cli, err := etcdconn.New(t.Context(), cfg)
			if err == nil {
				cli.Close()
				t.Fatal("New succeeded")
			}
			t.Logf("failed in %v: %v", time.Since(start), err)
			var ce *etcdconn.ConnectError
			if !errors.As(err, &ce) || !errors.Is(err, etcdconn.ErrUnreachable) || !errors.Is(err, tt.kind) {
				t.Fatalf("err = %v (%T), want a *ConnectError wrapping %v", err, err, tt.kind)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("message %q does not say %q", err, tt.mention)
			}
			if tt.kind == etcdconn.ErrUnreachable && ce.Kind != nil {
				t.Errorf("Kind = %v, want none when nothing listens", ce.Kind)
			}
		})
	}

	t.Run("SkipCheck connects lazily", func(t *testing.T) {
		cfg := good
		cfg.CAFile = foreign.CAFile()
		cfg.SkipCheck = true
		cli, err := etcdconn.New(t.Context(), cfg)
		if err != nil {
			t.Fatalf("New with SkipCheck: %v", err)
		}
		defer cli.Close()
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if _, err := cli.Get(ctx, "x"); err == nil {
			t.Fatal("Get with an untrusted server succeeded")
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if cli, err := etcdconn.New(ctx, good); err == nil {
			cli.Close()
			t.Fatal("New with a cancelled context succeeded")
		}
	})

	// The check needs no quorum: the runbook connects to degraded clusters.
	t.Run("without quorum", func(t *testing.T) {
		for _, m := range cluster.Members[1:] {
			if err := m.Stop(); err != nil {
				t.Fatal(err)
			}
		}
		t.Cleanup(func() {
			if err := cluster.StartMembers(context.Background(), "master-1", "master-2"); err != nil {
				t.Errorf("restarting members: %v", err)
			}
		})
		cli, err := etcdconn.New(t.Context(), good)
		if err != nil {
			t.Fatalf("New with one of three members up: %v", err)
		}
		cli.Close()
	})
}

// panicHandler is a slog.Handler whose Handle panics.
type panicHandler struct{ slog.Handler }

func (panicHandler) Enabled(context.Context, slog.Level) bool  { return true }
func (panicHandler) Handle(context.Context, slog.Record) error { panic("log sink broke") }
