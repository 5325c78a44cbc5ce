package release

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	configclient "github.com/openshift/client-go/config/clientset/versioned"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"github.com/lifeboat-dev/lifeboat"
)

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want []error // nil: valid
	}{
		{name: "zero value"},
		{name: "version override", opts: Options{Version: "4.20.3"}},
		{name: "generation override", opts: Options{Generation: GenerationEtcdOnly}},
		{name: "agreeing overrides", opts: Options{Version: "v4.14", Generation: GenerationClassic}},
		{name: "disagreeing overrides", opts: Options{Version: "4.14.8", Generation: GenerationEtcdOnly}, want: []error{lifeboat.ErrInvalidOptions}},
		{name: "unparsable version", opts: Options{Version: "four"}, want: []error{lifeboat.ErrInvalidOptions, ErrInvalidVersion}},
		{name: "unsupported version", opts: Options{Version: "4.2.0"}, want: []error{lifeboat.ErrInvalidOptions, ErrUnsupportedRelease}},
		{name: "unknown major", opts: Options{Version: "3.11.0"}, want: []error{lifeboat.ErrInvalidOptions, ErrUnsupportedRelease}},
		{name: "out-of-range generation", opts: Options{Generation: Generation(7)}, want: []error{lifeboat.ErrInvalidOptions, ErrInvalidGeneration}},
		{name: "negative timeout", opts: Options{APITimeout: -time.Second}, want: []error{lifeboat.ErrInvalidOptions}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.Validate()
			if tc.want == nil && err != nil {
				t.Fatalf("Validate: %v", err)
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("Validate: %v, want %v", err, w)
				}
			}
		})
	}
}

// TestDetectValidatesBeforeIO: invalid options fail before the API or the
// host is touched.
func TestDetectValidatesBeforeIO(t *testing.T) {
	cs := fakeConfig(history("4.14.8"))
	cs.PrependReactor("*", "*", func(k8stesting.Action) (bool, runtime.Object, error) {
		t.Error("the API was read with invalid options")
		return false, nil, nil
	})
	_, err := Detect(t.Context(), Deps{Config: cs}, Options{Version: "nope"})
	if !errors.Is(err, lifeboat.ErrInvalidOptions) {
		t.Fatalf("error %v, want lifeboat.ErrInvalidOptions", err)
	}
}

// TestDetectAPITimeout: an API server that accepts the connection and never
// answers counts as down after APITimeout; the host decides.
func TestDetectAPITimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	cs, err := configclient.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	d, err := Detect(t.Context(), Deps{Config: cs, Host: hostTree(t, etcdOnlyHost)}, Options{APITimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("Detect: %v", err)
	}
	if d.Generation != GenerationEtcdOnly || d.Evidence[0].Err == nil || !errors.Is(d.Evidence[0].Err, context.DeadlineExceeded) {
		t.Fatalf("generation %s, first evidence %v; want etcd-only from the host after the API timed out", d.Generation, d.Evidence[0])
	}
	_, err = Detect(t.Context(), Deps{Config: cs}, Options{APITimeout: 200 * time.Millisecond})
	if !errors.Is(err, ErrUndecided) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("without a host: %v, want ErrUndecided carrying the deadline", err)
	}
}

func TestGenerationOf(t *testing.T) {
	tests := []struct {
		version string
		want    Generation
		err     error
	}{
		{"4.5.2", GenerationClassic, nil},
		{"4.14.8", GenerationClassic, nil},
		{"4.17.0-0.nightly-2024-09-01-000000", GenerationClassic, nil},
		{"4.18.0-rc.1", GenerationEtcdOnly, nil},
		{"4.18.1", GenerationEtcdOnly, nil},
		{"v4.20", GenerationEtcdOnly, nil},
		{"5.0.0", GenerationEtcdOnly, nil},
		{"4.4.9", GenerationUnknown, ErrUnsupportedRelease},
		{"6.0.0", GenerationUnknown, ErrUnsupportedRelease},
		{"", GenerationUnknown, ErrInvalidVersion},
		{"4.x", GenerationUnknown, ErrInvalidVersion},
	}
	for _, tc := range tests {
		t.Run(tc.version, func(t *testing.T) {
			g, err := GenerationOfVersion(tc.version)
			if g != tc.want || !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("GenerationOfVersion(%q) = %s, %v; want %s, %v", tc.version, g, err, tc.want, tc.err)
			}
		})
	}
}

func TestGenerationText(t *testing.T) {
	for _, g := range []Generation{GenerationUnknown, GenerationClassic, GenerationEtcdOnly} {
		b, err := g.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Generation
		if err := back.UnmarshalText([]byte(strings.ToUpper(string(b)))); err != nil || back != g {
			t.Errorf("round trip of %s: %s, %v", g, back, err)
		}
	}
	if _, err := Generation(9).MarshalText(); !errors.Is(err, ErrInvalidGeneration) {
		t.Errorf("MarshalText(9): %v", err)
	}
	if _, err := parseGeneration("4.18"); !errors.Is(err, ErrInvalidGeneration) {
		t.Errorf("ParseGeneration(4.18): %v", err)
	}
	if GenerationClassic.Releases() != "4.5-4.17" || GenerationEtcdOnly.Releases() != "4.18+" {
		t.Errorf("Releases: %q %q", GenerationClassic.Releases(), GenerationEtcdOnly.Releases())
	}
}

// TestOptionsStated: Stated gives the override's decision without I/O
// (the one Detect reports first), and nothing for options stating none.
func TestOptionsStated(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    Options
		ok      bool
		gen     Generation
		version string
	}{
		{"nothing", Options{}, false, GenerationUnknown, ""},
		{"version 4.16", Options{Version: "4.16"}, true, GenerationClassic, "4.16"},
		{"version 4.18.2", Options{Version: "4.18.2"}, true, GenerationEtcdOnly, "4.18.2"},
		{"generation", Options{Generation: GenerationEtcdOnly}, true, GenerationEtcdOnly, ""},
		{"invalid version", Options{Version: "four"}, false, GenerationUnknown, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, ok := tc.opts.Stated()
			if ok != tc.ok || d.Generation != tc.gen || d.Version != tc.version || d.Overridden != tc.ok {
				t.Fatalf("Stated() = %+v, %v; want generation %s, version %q, %v", d, ok, tc.gen, tc.version, tc.ok)
			}
			if ok && (len(d.Evidence) != 1 || d.Evidence[0].Source != SourceOverride || !d.Evidence[0].Decided) {
				t.Errorf("evidence %+v, want one decided override", d.Evidence)
			}
		})
	}
}
