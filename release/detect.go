package release

import (
	"context"
	"fmt"
	"log/slog"
)

// Detect decides which procedure generation applies to a cluster and says
// which evidence decided.
//
// Evidence order:
//
//  1. An override (Options.Version, else Options.Generation) wins. The
//     sources in deps are still read, their evidence reported, and a
//     disagreement marked (Decision.Conflict), but their read errors do not
//     fail Detect.
//  2. ClusterVersion "version" (deps.Config), read within Options.APITimeout:
//     the newest status.history entry in state Completed. A Partial entry
//     above it is an upgrade in progress: the completed version still
//     decides (the upgrade may not have reached the etcd operator) and the
//     target is reported (Decision.Target). A completed version before 4.5
//     (or of an unknown major) fails with ErrUnsupportedRelease whatever
//     the host shows.
//  3. The recovery host (deps.Host): its etcd static pod manifests (live,
//     stopped, newest revision), /usr/local/bin scripts and revision.json
//     (what each shows is in the package documentation). It decides
//     when the API gave no generation (no client, API down or timed out,
//     no Completed entry, unparsable version).
//
// When both the ClusterVersion and the host indicate a generation and they
// differ, the host's wins and Decision.Conflict is set: the host's scripts
// and static pod are what the procedure will find and run there (during an
// upgrade across 4.18 the etcd operator, upgraded early, has already rolled
// out the new etcd pod while the ClusterVersion still names the old
// release). With Options.RefuseConflict, Detect returns ErrConflict
// instead.
//
// Errors: the options' (lifeboat.ErrInvalidOptions, before any I/O),
// ErrUnsupportedRelease, ErrConflict, an *UndecidedError (ErrUndecided)
// when nothing decides, or ctx's error wrapped. The Decision returned with
// an error still carries the evidence gathered.
func Detect(ctx context.Context, deps Deps, opts Options) (Decision, error) {
	if err := opts.Validate(); err != nil {
		return Decision{}, err
	}
	if err := ctx.Err(); err != nil {
		return Decision{}, fmt.Errorf("release: detect: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d, _ := opts.Stated()

	var api apiFinding
	if deps.Config != nil {
		var err error
		if api, err = fromClusterVersion(ctx, deps, opts); err != nil {
			return d, err
		}
		d.Evidence = append(d.Evidence, api.evidence...)
		d.Target = api.target
		if opts.Version == "" {
			d.Version = api.completed
		}
	}
	var hf hostFinding
	if deps.Host != nil {
		var err error
		if hf, err = fromHost(ctx, deps.Host); err != nil {
			return d, err
		}
	}
	for _, e := range d.Evidence {
		log.Debug("release evidence", "source", e.Source, "where", e.Where, "finding", e.Finding, "generation", e.Generation, "err", e.Err)
	}
	for _, e := range hf.evidence {
		log.Debug("release evidence", "source", e.Source, "where", e.Where, "finding", e.Finding, "generation", e.Generation, "err", e.Err)
	}
	d.Conflict = api.gen != GenerationUnknown && hf.gen != GenerationUnknown && api.gen != hf.gen

	switch {
	case d.Overridden:
		d.Evidence = append(d.Evidence, undecided(hf.evidence)...)
		if hf.gen == d.Generation {
			d.Capabilities = hf.caps
		}
	case api.unsupported != nil:
		d.Evidence = append(d.Evidence, undecided(hf.evidence)...)
		return d, fmt.Errorf("release: clusterversion/%s completed version %s: %w", clusterVersionName, api.completed, api.unsupported)
	case d.Conflict && opts.RefuseConflict:
		d.Evidence = append(d.Evidence, undecided(hf.evidence)...)
		return d, fmt.Errorf("%w: clusterversion/%s says %s (%s), host %s says %s", ErrConflict, clusterVersionName, api.gen, api.completed, deps.Host.Name(), hf.gen)
	case hf.gen != GenerationUnknown && (api.gen == GenerationUnknown || d.Conflict):
		d.Generation, d.Capabilities = hf.gen, hf.caps
		d.Evidence = append(d.Evidence, hf.evidence...)
	case api.gen != GenerationUnknown:
		d.Generation = api.gen
		markDecided(d.Evidence, SourceClusterVersion, api.gen)
		d.Evidence = append(d.Evidence, undecided(hf.evidence)...)
		if hf.gen == api.gen {
			d.Capabilities = hf.caps
		}
	default:
		d.Evidence = append(d.Evidence, undecided(hf.evidence)...)
		return d, &UndecidedError{Evidence: d.Evidence}
	}
	log.Info("release generation decided", "generation", d.Generation, "version", d.Version, "target", d.Target,
		"overridden", d.Overridden, "conflict", d.Conflict)
	return d, nil
}

// undecided returns a copy of evs with Decided cleared.
func undecided(evs []Evidence) []Evidence {
	out := make([]Evidence, len(evs))
	for i, e := range evs {
		e.Decided = false
		out[i] = e
	}
	return out
}

// markDecided marks the evidence of src indicating g.
func markDecided(evs []Evidence, src Source, g Generation) {
	for i := range evs {
		if evs[i].Source == src && evs[i].Generation == g {
			evs[i].Decided = true
		}
	}
}
