package freshness

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"

	"github.com/prometheus/client_golang/prometheus/push"
	"github.com/prometheus/common/model"
)

// defaultJob is the Pushgateway job name when PushOptions.Job is empty.
const defaultJob = "lifeboat_backup"

// PushOptions configure Push. URL is required.
type PushOptions struct {
	// URL is the Pushgateway's base URL, e.g. "http://pushgateway:9091",
	// without credentials (they would show in error messages).
	URL string
	// Job is the job grouping label; empty means defaultJob.
	Job string
	// Grouping adds grouping labels (e.g. {"cluster": "prod-1"}); not
	// "job" or "destination", nor a name of Options.ConstLabels.
	Grouping map[string]string
	// Client sends the requests; nil means http.DefaultClient. Give one
	// with TLS settings or an authenticating transport as needed.
	Client *http.Client
	// Replace pushes with PUT, replacing every metric of the group;
	// false pushes with POST, replacing only the metrics pushed, so the
	// last-success metrics a failed run does not know stay as the last
	// successful run pushed them.
	Replace bool
}

// Validate checks the options; errors wrap lifeboat.ErrInvalidOptions.
func (o PushOptions) Validate() error {
	var errs []error
	if u, err := url.Parse(o.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, opterr.New("freshness.PushOptions.URL", "is not an http(s) URL"))
	} else if u.User != nil {
		// Error messages carry the URL: credentials go in Client.
		errs = append(errs, opterr.New("freshness.PushOptions.URL", "carries credentials; give them to Client's transport"))
	}
	for name, value := range o.Grouping {
		switch {
		case !model.LegacyValidation.IsValidLabelName(name):
			errs = append(errs, opterr.New("freshness.PushOptions.Grouping", "%q is not a label name", name))
		case name == "job" || name == LabelDestination:
			errs = append(errs, opterr.New("freshness.PushOptions.Grouping", "label %q is set by Push", name))
		case value == "":
			errs = append(errs, opterr.New("freshness.PushOptions.Grouping", "label %q has an empty value", name))
		}
	}
	return errors.Join(errs...)
}

// Push sends r's metrics to a Pushgateway, one group per destination
// (grouping labels job, destination and opts.Grouping), through
// client_golang's push package in its default protobuf format. A
// destination's group holds only its own series, so pushing one
// destination never drops another's. It stops at the first error and
// honours ctx. Errors: opts.Validate's and a nil r (lifeboat.ErrInvalidOptions, before any
// request), or the first push's, naming its destination.
func Push(ctx context.Context, r *Recorder, opts PushOptions) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	if r == nil {
		return opterr.Nil("freshness.Push r")
	}
	for name := range opts.Grouping {
		if _, ok := r.constLabels[name]; ok {
			return opterr.New("freshness.PushOptions.Grouping", "label %q is also a constant label", name)
		}
	}
	job := opts.Job
	if job == "" {
		job = defaultJob
	}
	for _, dest := range r.Destinations() {
		s, _ := r.State(dest)
		p := push.New(opts.URL, job).Collector(destination{r: r, state: s}).Grouping(LabelDestination, dest)
		for name, value := range opts.Grouping {
			p = p.Grouping(name, value)
		}
		if opts.Client != nil {
			p = p.Client(opts.Client)
		}
		var err error
		if opts.Replace {
			err = p.PushContext(ctx)
		} else {
			err = p.AddContext(ctx)
		}
		if err != nil {
			return fmt.Errorf("pushing backup metrics of %s to %s: %w", dest, opts.URL, err)
		}
	}
	return nil
}
