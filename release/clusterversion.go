package release

import (
	"context"
	"errors"
	"fmt"
	"github.com/lifeboat-dev/lifeboat/internal/names"

	configv1 "github.com/openshift/api/config/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// clusterVersionName is the ClusterVersion every cluster has.
const clusterVersionName = names.ClusterVersionName

// apiFinding is what the ClusterVersion showed.
type apiFinding struct {
	evidence []Evidence
	// gen is the generation of the completed version; GenerationUnknown
	// when the API gave none.
	gen       Generation
	completed string // the newest Completed history entry's version
	target    string // an upgrade in progress's version
	// unsupported is set when the completed version parses but is a release
	// lifeboat does not support: decisive, the host cannot overrule it.
	unsupported error
}

// fromClusterVersion reads ClusterVersion "version" within the API timeout.
// Read errors become evidence; only the caller's ctx ending is returned.
func fromClusterVersion(ctx context.Context, deps Deps, opts Options) (apiFinding, error) {
	where := "clusterversion/" + clusterVersionName + " status.history"
	rctx, cancel := context.WithTimeout(ctx, opts.apiTimeout())
	defer cancel()
	cv, err := deps.Config.ConfigV1().ClusterVersions().Get(rctx, clusterVersionName, metav1.GetOptions{})
	if err != nil {
		if ctx.Err() != nil {
			return apiFinding{}, fmt.Errorf("release: reading clusterversion/%s: %w", clusterVersionName, ctx.Err())
		}
		if errors.Is(rctx.Err(), context.DeadlineExceeded) && !errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w (after %v)", context.DeadlineExceeded, opts.apiTimeout())
		}
		return apiFinding{evidence: []Evidence{{
			Source: SourceClusterVersion, Where: "clusterversion/" + clusterVersionName,
			Finding: "unreadable", Err: fmt.Errorf("reading clusterversion/%s: %w", clusterVersionName, err),
		}}}, nil
	}
	return judgeHistory(where, cv), nil
}

// judgeHistory finds the newest Completed entry of status.history (newest
// first, as the cluster-version operator keeps it) and, when the newest
// entry is a Partial upgrade, its target.
func judgeHistory(where string, cv *configv1.ClusterVersion) apiFinding {
	var f apiFinding
	hist := cv.Status.History
	if len(hist) > 0 && hist[0].State != configv1.CompletedUpdate {
		f.target = hist[0].Version
	}
	idx := -1
	for i, h := range hist {
		if h.State == configv1.CompletedUpdate {
			idx = i
			break
		}
	}
	if idx < 0 {
		finding := "no Completed entry"
		switch {
		case len(hist) == 0:
			finding = "empty history"
		case f.target != "":
			finding = fmt.Sprintf("no Completed entry (%s %s: installation not finished)", hist[0].State, f.target)
		}
		if d := cv.Status.Desired.Version; d != "" {
			finding += "; desired " + d
		}
		f.evidence = append(f.evidence, Evidence{Source: SourceClusterVersion, Where: where, Finding: finding})
		return f
	}
	h := hist[idx]
	f.completed = h.Version
	finding := "completed version " + h.Version
	if f.target != "" {
		finding += fmt.Sprintf(" (upgrade to %s in progress, %s; the completed version's procedure applies)", f.target, hist[0].State)
	}
	ev := Evidence{Source: SourceClusterVersion, Where: fmt.Sprintf("%s[%d]", where, idx), Finding: finding}
	g, err := GenerationOfVersion(h.Version)
	switch {
	case errors.Is(err, ErrUnsupportedRelease):
		ev.Err = err
		f.unsupported = err
	case err != nil:
		ev.Err = err
	default:
		ev.Generation, f.gen = g, g
		if f.target != "" {
			if tg, err := GenerationOfVersion(f.target); err == nil && tg != g {
				ev.Finding += fmt.Sprintf("; the target is generation %s: the etcd operator may already run it, see the host", tg)
			}
		}
	}
	f.evidence = append(f.evidence, ev)
	return f
}
