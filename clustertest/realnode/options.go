package realnode

import (
	"cmp"
	"log/slog"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"
)

// defaultNodeIP is the address [New] adds to "lo" for the node when
// Options.NodeIP is empty. The kubelet refuses loopback addresses as its
// node IP, so the node needs one of its own; a /32 on lo reaches nothing
// beyond this machine.
const defaultNodeIP = "10.254.254.1"

// defaultNodeName is the node's name when Options.Name is empty.
const defaultNodeName = "lifeboat-realnode"

// Options configure a [Node]. The zero value is usable.
type Options struct {
	// Name is the Node's name (a DNS-1123 subdomain). Empty means
	// "lifeboat-realnode".
	Name string
	// NodeIP is the IPv4 address added to "lo" as the node's InternalIP
	// (not a loopback address). Empty means 10.254.254.1 (a /32 on lo:
	// the kubelet refuses a loopback address as its node IP).
	NodeIP string
	// Binaries are the programs the node runs. Nil means the ones
	// [SkipUnavailable] finds.
	Binaries *Binaries
	// DebugImagePath are directories put first on DebugImage's PATH (and
	// so on the PATH of "chroot /host" commands run in it): a test's fake
	// crictl, systemctl and shutdown, so that no real one is reached. Nil
	// adds none. Each must be an absolute path.
	DebugImagePath []string
	// StartTimeout bounds the bring-up (containerd ready, images imported,
	// node Ready) beyond the caller's ctx. Zero means 3 minutes; the
	// machine may be loaded.
	StartTimeout time.Duration
	// LockTimeout bounds the wait for another node on this machine to
	// close. Zero means 10 minutes.
	LockTimeout time.Duration
	// Logger receives the bring-up's progress (one record per phase, with
	// its duration) and the teardown's warnings. Nil discards them.
	Logger *slog.Logger
	// Now is the clock for the durations reported. Nil means time.Now.
	Now func() time.Time
}

var dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// Validate checks the options without touching the machine. Errors wrap
// lifeboat.ErrInvalidOptions.
func (o Options) Validate() error {
	if o.Name != "" && (len(o.Name) > 63 || !dnsSubdomain.MatchString(o.Name)) {
		return opterr.New("realnode.Options.Name", "%q is not a DNS-1123 name of at most 63 characters", o.Name)
	}
	if o.NodeIP != "" {
		ip := net.ParseIP(o.NodeIP)
		if ip == nil || ip.To4() == nil || ip.IsLoopback() || ip.IsUnspecified() {
			return opterr.New("realnode.Options.NodeIP", "%q must be an IPv4 address outside 127.0.0.0/8", o.NodeIP)
		}
	}
	for _, d := range o.DebugImagePath {
		if !filepath.IsAbs(d) || strings.ContainsAny(d, ":\n") {
			return opterr.New("realnode.Options.DebugImagePath", "%q is not an absolute path without ':'", d)
		}
	}
	return cmp.Or(
		opterr.Negative("realnode.Options.StartTimeout", o.StartTimeout),
		opterr.Negative("realnode.Options.LockTimeout", o.LockTimeout),
	)
}

func (o *Options) defaults() {
	if o.Name == "" {
		o.Name = defaultNodeName
	}
	if o.NodeIP == "" {
		o.NodeIP = defaultNodeIP
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 3 * time.Minute
	}
	if o.LockTimeout == 0 {
		o.LockTimeout = 10 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}
