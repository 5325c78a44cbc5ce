package lifecycle

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	configv1 "github.com/openshift/api/config/v1"
	configclient "github.com/openshift/client-go/config/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// DefaultMinStablePeriod is how long every ClusterOperator must stay
// stable when StableOptions.MinStablePeriod is zero: five minutes, the
// default of "oc adm wait-for-stable-cluster --minimum-stable-period".
const DefaultMinStablePeriod = 5 * time.Minute

// defaultStableTimeout bounds WaitForStableCluster when
// StableOptions.Timeout is zero: one hour, the default of
// "oc adm wait-for-stable-cluster --timeout".
const defaultStableTimeout = time.Hour

// ErrClusterNotStable: the ClusterOperators did not stay stable for the
// minimum stable period within the timeout. Matched by *NotStableError.
var ErrClusterNotStable = errors.New("cluster not stable")

// NotStableError is WaitForStableCluster's timeout: the operators not
// stable at the last look (each with the conditions that made it so), or,
// when all were stable then, how long they had been.
type NotStableError struct {
	// Waited is how long the wait lasted; MinStablePeriod what it asked.
	Waited, MinStablePeriod time.Duration
	// Unstable are the operators not stable at the last look, sorted by
	// name; StableFor is how long all had been stable (0 when some were
	// not). LastError is why the last look failed (a listing error, or
	// what a caller's own precondition still waits for).
	Unstable  []OperatorState
	StableFor time.Duration
	LastError error
	// NoOperators: the last listing held no ClusterOperator.
	NoOperators bool
}

func (e *NotStableError) Error() string {
	var why string
	switch {
	case e.LastError != nil:
		why = e.LastError.Error()
	case e.NoOperators:
		why = "no ClusterOperators listed"
	case len(e.Unstable) > 0:
		var parts []string
		for _, o := range e.Unstable {
			parts = append(parts, o.Conditions())
		}
		why = "not stable: " + strings.Join(parts, "; ")
	default:
		why = fmt.Sprintf("all stable, but only for %s", e.StableFor.Round(time.Second))
	}
	return fmt.Sprintf("%v after %s (every ClusterOperator Available=True, Progressing=False, Degraded=False for %s): %s",
		ErrClusterNotStable, e.Waited.Round(time.Second), e.MinStablePeriod, why)
}

// Is matches ErrClusterNotStable: the kind of this error (see package lifeboat, Errors).
func (e *NotStableError) Is(target error) bool { return target == ErrClusterNotStable }

// Stable reports Available=True, Progressing=False and Degraded=False, as
// "oc adm wait-for-stable-cluster" judges an operator.
func (o OperatorState) Stable() bool { return o.Available && !o.Progressing && !o.Degraded }

// Conditions describes the state in one line: "etcd Available=True
// Progressing=True Degraded=False: <message>".
func (o OperatorState) Conditions() string {
	s := fmt.Sprintf("%s Available=%s Progressing=%s Degraded=%s", o.Name, tf(o.Available), tf(o.Progressing), tf(o.Degraded))
	if o.Message != "" {
		s += ": " + firstLine(o.Message)
	}
	return s
}

func tf(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

// StableOptions tune WaitForStableCluster. The zero value waits up to
// defaultStableTimeout for DefaultMinStablePeriod of stability, polling
// every 10 s.
type StableOptions struct {
	// MinStablePeriod is how long every ClusterOperator must be stable,
	// continuously (any unstable look starts it again);
	// DefaultMinStablePeriod when zero.
	MinStablePeriod time.Duration
	// Timeout bounds the wait; defaultStableTimeout when zero.
	Timeout time.Duration
	// Interval between looks; 10 s when zero.
	Interval time.Duration
	// Logger receives a line whenever what the wait sees changes (the
	// same line goes to plan.ReportProgress); nil discards.
	Logger *slog.Logger
	// Now is the clock measuring the stable period; time.Now when nil.
	Now func() time.Time
}

// Validate checks the options: no duration may be negative. Errors are a
// *lifeboat.OptionsError (lifeboat.ErrInvalidOptions) naming the field.
func (o StableOptions) Validate() error {
	return cmp.Or(
		opterr.Negative("lifecycle.StableOptions.MinStablePeriod", o.MinStablePeriod),
		opterr.Negative("lifecycle.StableOptions.Timeout", o.Timeout),
		opterr.Negative("lifecycle.StableOptions.Interval", o.Interval),
	)
}

// WaitForStableCluster waits until every ClusterOperator has been
// Available=True, Progressing=False and Degraded=False for
// MinStablePeriod without interruption, as "oc adm wait-for-stable-cluster"
// does (the 4.18+ "Restoring to a previous cluster state" waits with it
// before turning the quorum guard back on). An operator missing one of the
// three conditions is not stable; no ClusterOperator at all is not stable;
// a failed listing restarts the period.
//
// Whenever what it sees changes it reports a line through
// plan.ReportProgress: a Progress event of the plan step calling it, or
// of plan.WithReport's report outside a plan.
//
// It returns the operators as last seen once stable. When Timeout passes
// first it returns a *NotStableError (errors.Is ErrClusterNotStable)
// naming the unstable operators and their conditions; when ctx ends first,
// an error wrapping ctx.Err() with the same description. Invalid options
// and a nil config are a *lifeboat.OptionsError, before any API call.
func WaitForStableCluster(ctx context.Context, config configclient.Interface, opts StableOptions) ([]OperatorState, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if config == nil {
		return nil, opterr.Nil("lifecycle.WaitForStableCluster config")
	}
	if opts.MinStablePeriod == 0 {
		opts.MinStablePeriod = DefaultMinStablePeriod
	}
	if opts.Timeout == 0 {
		opts.Timeout = defaultStableTimeout
	}
	if opts.Interval == 0 {
		opts.Interval = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := opts.Now()
	var since time.Time // when the current stable stretch began (zero: none)
	var last []OperatorState
	var lastErr error
	listed := false
	lastLine := ""
	say := func(line string) {
		if line == lastLine {
			return
		}
		lastLine = line
		log.Info(line)
		plan.ReportProgress(ctx, line)
	}
	tctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	err := wait.PollUntilContextCancel(tctx, opts.Interval, true, func(ctx context.Context) (bool, error) {
		list, err := config.ConfigV1().ClusterOperators().List(ctx, metav1.ListOptions{})
		if err != nil {
			if ctx.Err() != nil {
				return false, nil // the deadline or the caller, judged below
			}
			since, lastErr, last = time.Time{}, fmt.Errorf("ClusterOperators could not be listed: %w", err), nil
			say("cannot list ClusterOperators: " + err.Error())
			return false, nil
		}
		lastErr, listed = nil, true
		last = operatorStates(list.Items)
		var unstable []string
		for _, o := range last {
			if !o.Stable() {
				unstable = append(unstable, o.Conditions())
			}
		}
		now := opts.Now()
		switch {
		case len(last) == 0:
			since = time.Time{}
			say("no ClusterOperators listed")
			return false, nil
		case len(unstable) > 0:
			since = time.Time{}
			say(fmt.Sprintf("%d of %d ClusterOperators not stable: %s", len(unstable), len(last), strings.Join(unstable, "; ")))
			return false, nil
		case since.IsZero():
			since = now
			say(fmt.Sprintf("all %d ClusterOperators Available, not Progressing, not Degraded; waiting %s for them to stay so", len(last), opts.MinStablePeriod))
		}
		if now.Sub(since) >= opts.MinStablePeriod {
			say(fmt.Sprintf("all %d ClusterOperators stable for %s", len(last), now.Sub(since).Round(time.Second)))
			return true, nil
		}
		return false, nil
	})
	if err == nil {
		return last, nil
	}
	e := &NotStableError{Waited: opts.Now().Sub(start), MinStablePeriod: opts.MinStablePeriod, LastError: lastErr,
		NoOperators: listed && lastErr == nil && len(last) == 0}
	for _, o := range last {
		if !o.Stable() {
			e.Unstable = append(e.Unstable, o)
		}
	}
	if !since.IsZero() && len(e.Unstable) == 0 {
		e.StableFor = opts.Now().Sub(since)
	}
	if ctx.Err() != nil {
		return last, fmt.Errorf("waiting for a stable cluster: %w (%s)", ctx.Err(), e.Error())
	}
	return last, e
}

// operatorStates judges every ClusterOperator, sorted by name.
func operatorStates(items []configv1.ClusterOperator) []OperatorState {
	out := make([]OperatorState, 0, len(items))
	for i := range items {
		st := operatorState(&items[i])
		// Unknown counts as not settled: Progressing and Degraded must be
		// False, not merely not True.
		for _, c := range items[i].Status.Conditions {
			switch c.Type {
			case configv1.OperatorProgressing:
				st.Progressing = c.Status != configv1.ConditionFalse
			case configv1.OperatorDegraded:
				st.Degraded = c.Status != configv1.ConditionFalse
			}
		}
		if !hasConditions(&items[i]) {
			st.Message = "missing one of the Available, Progressing, Degraded conditions"
			st.Available = false
		}
		if st.Progressing && st.Message == "" {
			st.Message = conditionMessage(&items[i], configv1.OperatorProgressing)
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// hasConditions reports whether co carries all three conditions.
func hasConditions(co *configv1.ClusterOperator) bool {
	n := 0
	for _, c := range co.Status.Conditions {
		switch c.Type {
		case configv1.OperatorAvailable, configv1.OperatorProgressing, configv1.OperatorDegraded:
			n++
		}
	}
	return n >= 3
}

func conditionMessage(co *configv1.ClusterOperator, t configv1.ClusterStatusConditionType) string {
	for _, c := range co.Status.Conditions {
		if c.Type == t {
			return c.Message
		}
	}
	return ""
}
