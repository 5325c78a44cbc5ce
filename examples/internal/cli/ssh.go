package cli

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/lifeboat-dev/lifeboat/host"
)

// SSHFlags reach masters the way the runbook does: "ssh core@<node>",
// then sudo, with host keys checked against known_hosts (no insecure mode).
type SSHFlags struct {
	User, Key, KnownHosts string
}

// Register adds <userFlag> (none when userFlag is "": the user is core),
// -ssh-key (default ~/.ssh/id_ed25519) and -known-hosts to fs.
func (s *SSHFlags) Register(fs *flag.FlagSet, userFlag string) {
	home, _ := os.UserHomeDir()
	s.User = "core"
	if userFlag != "" {
		fs.StringVar(&s.User, userFlag, "core", "SSH login user (commands run under sudo)")
	}
	fs.StringVar(&s.Key, "ssh-key", filepath.Join(home, ".ssh", "id_ed25519"), "SSH private key")
	fs.StringVar(&s.KnownHosts, "known-hosts", filepath.Join(home, ".ssh", "known_hosts"), "known_hosts file with the masters' host keys")
}

// DialFunc connects to one host: name is its node name ("" means the host
// part of addr), addr is host or host:port (port 22 when absent).
type DialFunc func(ctx context.Context, name, addr string) (*host.SSH, error)

// Dialer reads known_hosts once and returns a DialFunc. log may be nil.
func (s *SSHFlags) Dialer(log *slog.Logger) (DialFunc, error) {
	keys, err := host.KnownHosts(s.KnownHosts)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, name, addr string) (*host.SSH, error) {
		return host.NewSSH(ctx, host.SSHConfig{Name: name, Addr: addr, User: s.User, KeyFile: s.Key, HostKeyCallback: keys, Logger: log})
	}, nil
}
