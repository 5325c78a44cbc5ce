package host

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/lifeboat-dev/lifeboat/internal/errtest"
)

// TestZeroLocal: a Local not made by NewLocal has no root; its file
// operations are refused with a *lifeboat.OptionsError naming
// "host.Local" (not an os error about "" nor a panic, and never the
// working directory), and Run works without a logger.
func TestZeroLocal(t *testing.T) {
	var l Local
	ctx := t.Context()
	second := func(_ any, err error) error { return err }
	errtest.OptionNames(t, []errtest.Option{
		{Name: "read", Err: second(l.ReadFile(ctx, "/etc/hostname")), Want: "host.Local"},
		{Name: "open", Err: second(l.Open(ctx, "/etc/hostname")), Want: "host.Local"},
		{Name: "stat", Err: second(l.Stat(ctx, "/etc")), Want: "host.Local"},
		{Name: "readdir", Err: second(l.ReadDir(ctx, "/etc")), Want: "host.Local"},
		{Name: "write", Err: l.WriteFile(ctx, "/x", strings.NewReader("x"), 0o600), Want: "host.Local"},
		{Name: "mkdir", Err: l.MkdirAll(ctx, "/x", 0o700), Want: "host.Local"},
		{Name: "move", Err: l.Move(ctx, "/x", "/y"), Want: "host.Local"},
	})
	if out, err := l.Run(ctx, nil, "echo", "ok"); err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Errorf("zero Local: Run(echo ok) = %q, %v", out, err)
	}
}

// TestZeroSSH: an SSH not made by NewSSH (its shell is nil) refuses
// every operation with a *lifeboat.OptionsError naming "host.SSH"; Open
// used to dereference it on a goroutine of its own, ending the process.
func TestZeroSSH(t *testing.T) {
	var s SSH
	ctx := t.Context()
	second := func(_ any, err error) error { return err }
	errtest.OptionNames(t, []errtest.Option{
		{Name: "read", Err: second(s.ReadFile(ctx, "/etc/hostname")), Want: "host.SSH"},
		{Name: "open", Err: second(s.Open(ctx, "/etc/hostname")), Want: "host.SSH"},
		{Name: "stat", Err: second(s.Stat(ctx, "/etc")), Want: "host.SSH"},
		{Name: "readdir", Err: second(s.ReadDir(ctx, "/etc")), Want: "host.SSH"},
		{Name: "write", Err: s.WriteFile(ctx, "/x", strings.NewReader("x"), 0o600), Want: "host.SSH"},
		{Name: "mkdir", Err: s.MkdirAll(ctx, "/x", 0o700), Want: "host.SSH"},
		{Name: "move", Err: s.Move(ctx, "/x", "/y"), Want: "host.SSH"},
		{Name: "run", Err: second(s.Run(ctx, nil, "true")), Want: "host.SSH"},
		{Name: "containers", Err: second(s.Containers(ctx, "etcd")), Want: "host.SSH"},
		{Name: "restart kubelet", Err: s.RestartKubelet(ctx), Want: "host.SSH"},
		{Name: "shutdown", Err: s.Shutdown(ctx, time.Minute), Want: "host.SSH"},
	})
	if s.Name() != "" || s.Close() != nil {
		t.Errorf("zero SSH: Name() = %q, Close() = %v", s.Name(), s.Close())
	}
}

// TestKnownHostsRefusesNoFile: no known_hosts file, or an empty name, is
// a *lifeboat.OptionsError naming the argument.
func TestKnownHostsRefusesNoFile(t *testing.T) {
	second := func(_ any, err error) error { return err }
	errtest.OptionNames(t, []errtest.Option{
		{Name: "no file", Err: second(KnownHosts()), Want: "host.KnownHosts files"},
		{Name: "empty name", Err: second(KnownHosts("")), Want: "host.KnownHosts files"},
	})
}

// TestNewSSHRefusesBadOptions: a negative DialTimeout (an instant "i/o
// timeout" before) and a KeyFile that holds no private key are refused
// with a *lifeboat.OptionsError before any connection; the refusal does
// not quote the file's content.
func TestNewSSHRefusesBadOptions(t *testing.T) {
	accept := func(string, net.Addr, ssh.PublicKey) error { return nil }
	notAKey := filepath.Join(t.TempDir(), "id")
	if err := os.WriteFile(notAKey, []byte("not a key SeCrEt\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	second := func(_ any, err error) error { return err }
	badKey := second(NewSSH(ctx, SSHConfig{Addr: "127.0.0.1:1", HostKeyCallback: accept, KeyFile: notAKey}))
	errtest.OptionNames(t, []errtest.Option{
		{Name: "negative dial timeout", Err: second(NewSSH(ctx, SSHConfig{Addr: "127.0.0.1:1", HostKeyCallback: accept, KeyFile: notAKey, DialTimeout: -time.Second})), Want: "host.SSHConfig.DialTimeout"},
		{Name: "not a key", Err: badKey, Want: "host.SSHConfig.KeyFile"},
	})
	if badKey != nil && strings.Contains(badKey.Error(), "SeCrEt") {
		t.Errorf("error %q quotes the key file", badKey)
	}
}
