package release

import (
	"fmt"
	"strings"
)

// Source names where a piece of evidence came from.
type Source string

const (
	// SourceOverride is the caller's Options.Generation or Options.Version.
	SourceOverride Source = "override"
	// SourceClusterVersion is ClusterVersion "version" read from the API.
	SourceClusterVersion Source = "ClusterVersion"
	// SourceHost is a file on the recovery host.
	SourceHost Source = "host"
)

// Evidence is one thing Detect read (or failed to read) and what it showed.
type Evidence struct {
	// Source is where it came from.
	Source Source
	// Where is what was read: "clusterversion/version status.history",
	// "master-0:/etc/kubernetes/manifests/etcd-pod.yaml", "Options.Version".
	Where string
	// Finding is what it showed, in words ("completed version 4.14.8",
	// "containers etcdctl, etcd, etcd-metrics, etcd-readyz, etcd-rev",
	// "absent").
	Finding string
	// Generation is the generation this evidence indicates;
	// GenerationUnknown when it indicates none (absent, unreadable,
	// unparsable).
	Generation Generation
	// Err is the read or parse error, if any. It is the evidence's, not
	// Detect's: Detect fails only when nothing decides.
	Err error
	// Decided is true for the evidence the decision rests on.
	Decided bool
}

// String renders the evidence on one line: "ClusterVersion
// clusterversion/version status.history: completed version 4.14.8 →
// classic (decided)".
func (e Evidence) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %s", e.Source, e.Where, e.Finding)
	if e.Err != nil {
		fmt.Fprintf(&b, " (%v)", e.Err)
	}
	if e.Generation != GenerationUnknown {
		fmt.Fprintf(&b, " → %s", e.Generation)
	}
	if e.Decided {
		b.WriteString(" (decided)")
	}
	return b.String()
}

// Decision is the generation Detect chose and why.
type Decision struct {
	// Generation is the procedure generation that applies.
	Generation Generation
	// Version is the override's Options.Version, else the cluster's newest
	// completed version (status.history), even when the host's evidence
	// decided against it (Conflict). "" when neither is known.
	Version string
	// Target is the version of an upgrade in progress (the newest history
	// entry, Partial), "" when none. The completed Version's procedure
	// applies: the upgrade may not have reached the etcd operator.
	Target string
	// Capabilities are the features the evidence showed beyond the
	// generation's (see Capability).
	Capabilities []Capability
	// Evidence is everything read, in the order read, the deciding
	// pieces marked Decided.
	Evidence []Evidence
	// Overridden is true when Options.Generation or Options.Version
	// decided.
	Overridden bool
	// Conflict is true when the ClusterVersion and the host indicated
	// different generations (see Detect for the rule applied).
	Conflict bool
}

// Has reports whether the decision carries capability c.
func (d Decision) Has(c Capability) bool {
	for _, x := range d.Capabilities {
		if x == c {
			return true
		}
	}
	return false
}

// String is the decision on one line, for a plan's dry run:
// "generation etcd-only (4.18+), from ClusterVersion: completed version
// 4.20.3".
func (d Decision) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "generation %s (%s)", d.Generation, d.Generation.Releases())
	var why []string
	for _, e := range d.Evidence {
		if e.Decided {
			why = append(why, fmt.Sprintf("%s %s: %s", e.Source, e.Where, e.Finding))
		}
	}
	if len(why) > 0 {
		fmt.Fprintf(&b, ", from %s", strings.Join(why, "; "))
	}
	if d.Target != "" {
		fmt.Fprintf(&b, "; upgrade to %s in progress", d.Target)
	}
	if d.Conflict {
		b.WriteString("; the ClusterVersion and the host disagree, the host's evidence applied")
		if d.Overridden {
			b.WriteString(" unless overridden")
		}
	}
	return b.String()
}
