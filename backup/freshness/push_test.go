package freshness

import (
	"context"
	"errors"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/lifeboat-dev/lifeboat"
)

// gateway is a stand-in for the Pushgateway's push API (the real one is
// not available here): it decodes bodies the way the Pushgateway does
// (by Content-Type, protobuf-delimited or text) and keeps groups with
// its PUT (replace the group) and POST (replace the pushed families)
// semantics.
type gateway struct {
	mu     sync.Mutex
	groups map[string]map[string]*dto.MetricFamily // URL path -> families
	fail   bool
	// protobuf is set once a body came in the protobuf format (the push
	// package's default).
	protobuf bool
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if g.fail {
		http.Error(w, "storage full", http.StatusInternalServerError)
		return
	}
	if !strings.HasPrefix(req.URL.Path, "/metrics/job/") || (req.Method != http.MethodPut && req.Method != http.MethodPost) {
		http.Error(w, "bad request "+req.Method+" "+req.URL.Path, http.StatusBadRequest)
		return
	}
	// As the Pushgateway's push handler: protobuf-delimited when the
	// Content-Type says so, else the text format.
	got := map[string]*dto.MetricFamily{}
	mt, params, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if err == nil && mt == "application/vnd.google.protobuf" && params["encoding"] == "delimited" && params["proto"] == "io.prometheus.client.MetricFamily" {
		g.protobuf = true
		dec := expfmt.NewDecoder(req.Body, expfmt.NewFormat(expfmt.TypeProtoDelim))
		for {
			var mf dto.MetricFamily
			if err := dec.Decode(&mf); err == io.EOF {
				break
			} else if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			got[mf.GetName()] = &mf
		}
	} else {
		p := expfmt.NewTextParser(model.UTF8Validation)
		if got, err = p.TextToMetricFamilies(req.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	for name, mf := range got {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "job" || l.GetName() == LabelDestination {
					http.Error(w, name+" carries grouping label "+l.GetName(), http.StatusBadRequest)
					return
				}
			}
		}
	}
	key, err := groupKey(req.URL.Path)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.groups[key] == nil || req.Method == http.MethodPut {
		g.groups[key] = map[string]*dto.MetricFamily{}
	}
	maps.Copy(g.groups[key], got)
	w.WriteHeader(http.StatusOK)
}

// groupKey turns /metrics/job/<job>{/<label>/<value>} into the group's
// label set, sorted ("cluster=prod-1,destination=s3,job=lifeboat_backup"):
// the Pushgateway identifies a group by its labels, in any order.
func groupKey(path string) (string, error) {
	parts := strings.Split(strings.TrimPrefix(path, "/metrics/"), "/")
	if len(parts)%2 != 0 {
		return "", errors.New("odd number of path components in " + path)
	}
	var pairs []string
	for i := 0; i < len(parts); i += 2 {
		if strings.HasSuffix(parts[i], "@base64") {
			return "", errors.New("base64 label values are not expected here: " + path)
		}
		pairs = append(pairs, parts[i]+"="+parts[i+1])
	}
	slices.Sort(pairs)
	return strings.Join(pairs, ","), nil
}

func (g *gateway) value(t *testing.T, group, name string) (float64, bool) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	mf := g.groups[group][name]
	if mf == nil {
		return 0, false
	}
	if len(mf.GetMetric()) != 1 {
		t.Fatalf("%s %s: %d series", group, name, len(mf.GetMetric()))
	}
	m := mf.GetMetric()[0]
	for _, l := range m.GetLabel() {
		if l.GetName() == LabelDestination {
			t.Errorf("%s %s carries the destination label; it is a grouping label", group, name)
		}
	}
	if mf.GetType() == dto.MetricType_COUNTER {
		return m.GetCounter().GetValue(), true
	}
	return m.GetGauge().GetValue(), true
}

func TestPush(t *testing.T) {
	g := &gateway{groups: map[string]map[string]*dto.MetricFamily{}}
	srv := httptest.NewServer(g)
	defer srv.Close()
	opts := PushOptions{URL: srv.URL, Grouping: map[string]string{"cluster": "prod-1"}, Client: srv.Client()}

	// Run 1 (its own process): both destinations succeed.
	run1 := newRecorder(t, Options{})
	recordTwoDays(t, run1)
	if err := run1.RecordScrub(Scrub{Destination: "local", Finished: t2, Backups: 3}); err != nil {
		t.Fatal(err)
	}
	if err := Push(t.Context(), run1, opts); err != nil {
		t.Fatal(err)
	}
	if !g.protobuf {
		t.Error("push did not use the protobuf format")
	}
	groups := slices.Sorted(maps.Keys(g.groups))
	local, s3 := "cluster=prod-1,destination=local,job=lifeboat_backup", "cluster=prod-1,destination=s3,job=lifeboat_backup"
	if !slices.Equal(groups, []string{local, s3}) {
		t.Fatalf("groups %v", groups)
	}
	if v, _ := g.value(t, local, LastSuccessTimestamp); v != float64(t1.Unix()) {
		t.Errorf("local last success %v", v)
	}
	if len(g.groups[local]) != len(MetricNames()) {
		t.Errorf("local group holds %d families", len(g.groups[local]))
	}

	// Run 2, a new process, only s3, and it fails: POST keeps s3's last
	// success from run 1 and leaves the local group alone.
	run2 := newRecorder(t, Options{})
	if err := run2.Record(Attempt{Destination: "s3", Finished: t2.Add(3600e9), Err: errors.New("403")}); err != nil {
		t.Fatal(err)
	}
	if err := Push(t.Context(), run2, opts); err != nil {
		t.Fatal(err)
	}
	if v, ok := g.value(t, s3, LastSuccessTimestamp); !ok || v != float64(t2.Unix()) {
		t.Errorf("s3 last success after a failed run: %v %v, want %d", v, ok, t2.Unix())
	}
	if v, _ := g.value(t, s3, LastAttemptSuccess); v != 0 {
		t.Errorf("s3 last attempt success %v, want 0", v)
	}
	if v, _ := g.value(t, local, LastAttemptSuccess); v != 0 || len(g.groups[local]) != len(MetricNames()) {
		t.Errorf("local group changed: %v", g.groups[local])
	}

	// Replace (PUT) drops what the run does not know.
	opts.Replace = true
	if err := Push(t.Context(), run2, opts); err != nil {
		t.Fatal(err)
	}
	if _, ok := g.value(t, s3, LastSuccessTimestamp); ok {
		t.Error("PUT kept the last success")
	}

	g.fail = true
	if err := Push(t.Context(), run1, opts); err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("gateway error: %v", err)
	}
	g.fail = false

	ctx, cancel := contextWithCancel(t)
	cancel()
	if err := Push(ctx, run1, opts); err == nil {
		t.Error("cancelled context: no error")
	}
}

func TestPushOptionsValidate(t *testing.T) {
	for name, o := range map[string]PushOptions{
		"no URL":               {},
		"not http":             {URL: "ftp://gw:9091"},
		"no host":              {URL: "http://"},
		"credentials in URL":   {URL: "http://user:secret@gw:9091"},
		"job grouping":         {URL: "http://gw:9091", Grouping: map[string]string{"job": "x"}},
		"destination":          {URL: "http://gw:9091", Grouping: map[string]string{"destination": "x"}},
		"bad label":            {URL: "http://gw:9091", Grouping: map[string]string{"a-b": "x"}},
		"empty grouping value": {URL: "http://gw:9091", Grouping: map[string]string{"cluster": ""}},
	} {
		err := o.Validate()
		if !errors.Is(err, lifeboat.ErrInvalidOptions) {
			t.Errorf("%s: %v", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: the error shows the credentials: %v", name, err)
		}
	}
	if err := (PushOptions{URL: "https://gw.example:9091"}).Validate(); err != nil {
		t.Error(err)
	}
	r := newRecorder(t, Options{ConstLabels: map[string]string{"cluster": "a"}})
	if err := Push(t.Context(), r, PushOptions{URL: "http://127.0.0.1:1", Grouping: map[string]string{"cluster": "a"}}); !errors.Is(err, lifeboat.ErrInvalidOptions) {
		t.Errorf("grouping label that is also a constant label: %v", err)
	}
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithCancel(t.Context())
}
