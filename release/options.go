package release

import (
	"log/slog"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"

	configclient "github.com/openshift/client-go/config/clientset/versioned"

	"github.com/lifeboat-dev/lifeboat/host"
)

// defaultAPITimeout bounds the ClusterVersion read when Options.APITimeout
// is zero. An API server that does not answer within it counts as down and
// the recovery host is asked instead.
const defaultAPITimeout = 30 * time.Second

// Deps are the sources Detect may read. Both are optional; with neither,
// only an override decides.
type Deps struct {
	// Config reads ClusterVersion "version". Nil: the API is not consulted
	// (the caller has no client, or knows the API is down).
	Config configclient.Interface
	// Host is the recovery host (or any control-plane host): its etcd static
	// pod manifests, /usr/local/bin scripts and /var/lib/etcd/revision.json
	// are read, never written. Nil: no host evidence.
	Host host.Host
}

// Options tune Detect. The zero value detects from Deps with a 30 s
// API timeout, applies the conflict rule (the host wins) and logs
// nothing.
type Options struct {
	// Generation, when not GenerationUnknown, is the caller's decision; it
	// wins over the cluster's evidence (which is still read and reported).
	Generation Generation
	// Version, when not "", is the caller's statement of the cluster's
	// OpenShift version ("4.14.8"); its generation (GenerationOfVersion) wins like
	// Generation. When both are set they must agree.
	Version string
	// APITimeout bounds the ClusterVersion read; 0 means 30 s.
	// Negative is invalid.
	APITimeout time.Duration
	// RefuseConflict makes Detect return ErrConflict, instead of applying
	// the conflict rule, when the ClusterVersion and the host indicate
	// different generations. An override still wins over a conflict.
	RefuseConflict bool
	// Logger receives one debug record per piece of evidence and an info
	// record of the decision. Nil discards.
	Logger *slog.Logger
}

// Validate checks the options without any I/O. Errors wrap
// lifeboat.ErrInvalidOptions (and ErrInvalidGeneration, ErrInvalidVersion or
// ErrUnsupportedRelease for the overrides).
func (o Options) Validate() error {
	if o.Generation != GenerationUnknown && !o.Generation.Valid() {
		return opterr.New("release.Options.Generation", "%w: %d", ErrInvalidGeneration, int(o.Generation))
	}
	if o.Version != "" {
		g, err := GenerationOfVersion(o.Version)
		if err != nil {
			return opterr.New("release.Options.Version", "%w", err)
		}
		if o.Generation != GenerationUnknown && g != o.Generation {
			return opterr.New("release.Options.Version", "%s is generation %s, Generation says %s", o.Version, g, o.Generation)
		}
	}
	return opterr.Negative("release.Options.APITimeout", o.APITimeout)
}

// Stated returns, without any I/O, the Decision that o's override
// (Generation, or Version) makes, and true; or the zero Decision and
// false when o states nothing. The Decision is the one Detect starts
// from: Overridden, one SourceOverride evidence, Version set when
// Version is. Procedures that exist for one generation only refuse a
// stated other one when they build, before Detect reads anything. o must
// be valid (Validate); an invalid Version states nothing.
func (o Options) Stated() (Decision, bool) {
	var d Decision
	ev := Evidence{Source: SourceOverride, Decided: true}
	switch {
	case o.Version != "":
		g, err := GenerationOfVersion(o.Version)
		if err != nil {
			return Decision{}, false
		}
		ev.Where, ev.Finding, ev.Generation = "Options.Version", "version "+o.Version, g
		d.Version = o.Version
	case o.Generation != GenerationUnknown:
		ev.Where, ev.Finding, ev.Generation = "Options.Generation", "generation "+o.Generation.String(), o.Generation
	default:
		return Decision{}, false
	}
	d.Evidence = append(d.Evidence, ev)
	d.Generation, d.Overridden = ev.Generation, true
	return d, true
}

func (o Options) apiTimeout() time.Duration {
	if o.APITimeout == 0 {
		return defaultAPITimeout
	}
	return o.APITimeout
}
