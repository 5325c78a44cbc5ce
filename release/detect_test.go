package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	configv1 "github.com/openshift/api/config/v1"
	configfake "github.com/openshift/client-go/config/clientset/versioned/fake"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/lifeboat-dev/lifeboat/host"
)

var (
	etcdOnlyHost = map[string]string{
		etcdManifestPath:                   etcdOnlyPod,
		ScriptsDir + "/disable-etcd.sh":    "#!/bin/bash\n",
		ScriptsDir + "/quorum-restore.sh":  "#!/bin/bash\n",
		ScriptsDir + "/cluster-restore.sh": "ETCD_STATIC_POD_CONTAINERS=(\"etcd\" \"etcd-rev\")\n",
	}
	classicHost = map[string]string{
		etcdManifestPath: classicPod,
		staticPodResourcesDir + "/etcd-pod-3/etcd-pod.yaml": classicPod,
		ScriptsDir + "/cluster-restore.sh":                  "STATIC_POD_LIST=(\"kube-apiserver-pod.yaml\")\n",
	}
)

func TestDetect(t *testing.T) {
	apiDown := errors.New("dial tcp 10.0.0.1:6443: connect: connection refused")
	tests := []struct {
		name     string
		hist     []configv1.UpdateHistory // nil with noAPI: no client
		noAPI    bool
		apiErr   error
		host     map[string]string // nil: no host
		opts     Options
		wantGen  Generation
		wantVer  string
		wantTgt  string
		wantErr  []error
		conflict bool
		override bool
		decided  []string // substrings of the deciding evidence, in order
		caps     []Capability
	}{
		{name: "completed 4.14.8", hist: history("4.14.8", "4.14.2"), wantGen: GenerationClassic, wantVer: "4.14.8",
			decided: []string{"ClusterVersion clusterversion/version status.history[0]"}},
		{name: "completed 4.20.3", hist: history("4.20.3"), wantGen: GenerationEtcdOnly, wantVer: "4.20.3",
			decided: []string{"ClusterVersion"}},
		{name: "4.18.0 release candidate is etcd-only", hist: history("4.18.0-rc.2"), wantGen: GenerationEtcdOnly, wantVer: "4.18.0-rc.2"},
		{name: "5.0 is etcd-only", hist: history("5.0.1"), wantGen: GenerationEtcdOnly, wantVer: "5.0.1"},
		{name: "4.5.2, the seed's release", hist: history("4.5.2"), wantGen: GenerationClassic, wantVer: "4.5.2"},
		{name: "4.17 is the last classic", hist: history("4.17.40"), wantGen: GenerationClassic, wantVer: "4.17.40"},
		{name: "partial upgrade within 4.14: the completed version applies", hist: history("4.14.9~", "4.14.8"),
			wantGen: GenerationClassic, wantVer: "4.14.8", wantTgt: "4.14.9", decided: []string{"status.history[1]"}},
		{name: "upgrade 4.17 to 4.18 in progress: the completed 4.17 applies", hist: history("4.18.2~", "4.17.9", "4.16.3"),
			wantGen: GenerationClassic, wantVer: "4.17.9", wantTgt: "4.18.2", decided: []string{"status.history[1]"}},
		{name: "upgrade 4.17 to 4.18 in progress, host already runs the 4.18 etcd pod: host wins", hist: history("4.18.2~", "4.17.9"),
			host: etcdOnlyHost, wantGen: GenerationEtcdOnly, wantVer: "4.17.9", wantTgt: "4.18.2", conflict: true,
			decided: []string{"etcd-pod.yaml", "disable-etcd.sh", "quorum-restore.sh", "cluster-restore.sh"}},
		{name: "empty history, no host", hist: history(), wantErr: []error{ErrUndecided}},
		{name: "installation never completed, no host", hist: history("4.20.3~"), wantTgt: "4.20.3", wantErr: []error{ErrUndecided}},
		{name: "empty history, host decides", hist: history(), host: etcdOnlyHost, wantGen: GenerationEtcdOnly,
			decided: []string{"host master-0:/etc/kubernetes/manifests/etcd-pod.yaml"}},
		{name: "unparsable version, no host", hist: history("banana"), wantVer: "banana", wantErr: []error{ErrUndecided, ErrInvalidVersion}},
		{name: "unparsable version, host decides", hist: history("banana"), host: classicHost, wantGen: GenerationClassic, wantVer: "banana"},
		{name: "unsupported 4.4 refuses even with a host", hist: history("4.4.3"), host: classicHost, wantVer: "4.4.3", wantErr: []error{ErrUnsupportedRelease}},
		{name: "API down: host evidence, etcd-only", apiErr: apiDown, host: etcdOnlyHost, wantGen: GenerationEtcdOnly},
		{name: "API down: host evidence, classic", apiErr: apiDown, host: classicHost, wantGen: GenerationClassic,
			decided: []string{"manifests/etcd-pod.yaml", "etcd-pod-3/etcd-pod.yaml", "cluster-restore.sh"}},
		{name: "API down, no host", apiErr: apiDown, wantErr: []error{ErrUndecided}},
		{name: "no client: host only", noAPI: true, host: etcdOnlyHost, wantGen: GenerationEtcdOnly},
		{name: "nothing at all", noAPI: true, wantErr: []error{ErrUndecided}},
		{name: "empty host tree decides nothing", noAPI: true, host: map[string]string{"/tmp/x": ""}, wantErr: []error{ErrUndecided}},
		{name: "conflict: API 4.14.8, host shows etcd-rev: host wins", hist: history("4.14.8"), host: etcdOnlyHost,
			wantGen: GenerationEtcdOnly, wantVer: "4.14.8", conflict: true},
		{name: "conflict: API 4.20.3, host classic: host wins", hist: history("4.20.3"), host: classicHost,
			wantGen: GenerationClassic, wantVer: "4.20.3", conflict: true},
		{name: "conflict refused", hist: history("4.14.8"), host: etcdOnlyHost, opts: Options{RefuseConflict: true},
			wantErr: []error{ErrConflict}, conflict: true, wantVer: "4.14.8"},
		{name: "agreement: API decides, host confirms", hist: history("4.20.3"), host: etcdOnlyHost, wantGen: GenerationEtcdOnly,
			wantVer: "4.20.3", decided: []string{"ClusterVersion"}},
		{name: "override Version wins over the API", hist: history("4.14.8"), opts: Options{Version: "4.20.3"},
			wantGen: GenerationEtcdOnly, wantVer: "4.20.3", override: true, decided: []string{"override Options.Version"}},
		{name: "override Generation wins over a conflict", hist: history("4.14.8"), host: etcdOnlyHost,
			opts: Options{Generation: GenerationClassic, RefuseConflict: true}, wantGen: GenerationClassic, wantVer: "4.14.8",
			override: true, conflict: true, decided: []string{"override Options.Generation"}},
		{name: "override with the API down still decides", apiErr: apiDown, opts: Options{Generation: GenerationEtcdOnly},
			wantGen: GenerationEtcdOnly, override: true},
		{name: "override with nothing to read", noAPI: true, opts: Options{Version: "4.14.8"}, wantGen: GenerationClassic, wantVer: "4.14.8", override: true},
		{name: "4.18 restore pod live, scripts show etcd-only", noAPI: true,
			host:    map[string]string{etcdManifestPath: restorePod, ScriptsDir + "/disable-etcd.sh": "x"},
			wantGen: GenerationEtcdOnly, decided: []string{"disable-etcd.sh"}},
		{name: "etcd pod stopped by disable-etcd.sh", noAPI: true,
			host:    map[string]string{stoppedEtcdManifestPath: etcdOnlyPod},
			wantGen: GenerationEtcdOnly, decided: []string{"manifests-stopped/etcd-pod.yaml"}},
		{name: "only the newest revision directory shows etcd-rev", noAPI: true,
			host: map[string]string{
				staticPodResourcesDir + "/etcd-pod-9/etcd-pod.yaml":  classicPod,
				staticPodResourcesDir + "/etcd-pod-12/etcd-pod.yaml": etcdOnlyPod,
			},
			wantGen: GenerationEtcdOnly, decided: []string{"etcd-pod-12/etcd-pod.yaml"}},
		{name: "revision.json alone", noAPI: true, host: map[string]string{revisionJSONPath: `{"maxRaftIndex":7}`},
			wantErr: []error{ErrUndecided}},
		{name: "classic host with the backported bump", hist: history("4.14.8"),
			host:    map[string]string{etcdManifestPath: classicPod, ScriptsDir + "/cluster-restore.sh": "# ETCD_ETCDCTL_RESTORE_ENABLE_BUMP - when set\n"},
			wantGen: GenerationClassic, wantVer: "4.14.8", caps: []Capability{CapabilityRestoreBumpOptIn}},
		{name: "manifest that is not a pod decides nothing", noAPI: true, host: map[string]string{etcdManifestPath: "{{{"},
			wantErr: []error{ErrUndecided}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var deps Deps
			if !tc.noAPI {
				cs := fakeConfig(tc.hist)
				if tc.apiErr != nil {
					cs = configfake.NewClientset()
					cs.PrependReactor("get", "clusterversions", func(k8stesting.Action) (bool, runtime.Object, error) {
						return true, nil, tc.apiErr
					})
				}
				deps.Config = cs
			}
			if tc.host != nil {
				deps.Host = hostTree(t, tc.host)
			}
			d, err := Detect(t.Context(), deps, tc.opts)
			for _, want := range tc.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("error %v, want %v", err, want)
				}
			}
			if len(tc.wantErr) == 0 && err != nil {
				t.Fatalf("Detect: %v", err)
			}
			if tc.wantErr == nil && d.Generation != tc.wantGen {
				t.Errorf("generation %s, want %s; evidence:\n%s", d.Generation, tc.wantGen, dump(d))
			}
			if d.Version != tc.wantVer || d.Target != tc.wantTgt {
				t.Errorf("version %q target %q, want %q %q", d.Version, d.Target, tc.wantVer, tc.wantTgt)
			}
			if d.Conflict != tc.conflict || d.Overridden != tc.override {
				t.Errorf("conflict %v overridden %v, want %v %v", d.Conflict, d.Overridden, tc.conflict, tc.override)
			}
			if !slices.Equal(d.Capabilities, tc.caps) {
				t.Errorf("capabilities %v, want %v", d.Capabilities, tc.caps)
			}
			got := decided(d)
			if err != nil && len(got) > 0 && !tc.override {
				t.Errorf("failed detection marks evidence decided: %v", got)
			}
			if err == nil && len(got) == 0 {
				t.Errorf("no deciding evidence:\n%s", dump(d))
			}
			for i, want := range tc.decided {
				if i >= len(got) || !strings.Contains(got[i], want) {
					t.Errorf("deciding evidence %q, want [%d] containing %q", got, i, want)
					break
				}
			}
			if err == nil && !strings.Contains(d.String(), tc.wantGen.String()) {
				t.Errorf("String() %q does not name the generation", d.String())
			}
		})
	}
}

func dump(d Decision) string {
	var b strings.Builder
	for _, e := range d.Evidence {
		fmt.Fprintf(&b, "  %s\n", e)
	}
	return b.String()
}

// TestDetectUndecidedCarriesEvidence: the error of a failed detection says
// what was read and why it did not decide.
func TestDetectUndecidedCarriesEvidence(t *testing.T) {
	cs := configfake.NewClientset()
	cs.PrependReactor("get", "clusterversions", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("connection refused")
	})
	_, err := Detect(t.Context(), Deps{Config: cs, Host: hostTree(t, map[string]string{"/tmp/x": ""})}, Options{})
	var ue *UndecidedError
	if !errors.As(err, &ue) {
		t.Fatalf("error %v, want *UndecidedError", err)
	}
	msg := err.Error()
	for _, want := range []string{"connection refused", "etcd-pod.yaml: absent", "disable-etcd.sh: absent"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
}

// TestDetectContext: a cancelled context stops Detect with its error, and is
// not mistaken for the API being down.
func TestDetectContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for name, deps := range map[string]Deps{
		"api":  {Config: fakeConfig(history("4.14.8"))},
		"host": {Host: hostTree(t, etcdOnlyHost)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Detect(ctx, deps, Options{})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("error %v, want context.Canceled", err)
			}
		})
	}
	t.Run("cancelled while the API is read", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cs := configfake.NewClientset()
		cs.PrependReactor("get", "clusterversions", func(k8stesting.Action) (bool, runtime.Object, error) {
			cancel()
			return true, nil, context.Canceled
		})
		_, err := Detect(ctx, Deps{Config: cs, Host: hostTree(t, etcdOnlyHost)}, Options{})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled (not a fallback to the host)", err)
		}
	})
}

// brokenHost fails every read with err, as a host that went down or
// refuses the session does.
type brokenHost struct {
	host.Host
	err error
}

func (b brokenHost) Name() string { return "master-1" }
func (b brokenHost) Open(context.Context, string) (io.ReadCloser, error) {
	return nil, b.err
}
func (b brokenHost) Stat(context.Context, string) (host.FileInfo, error) {
	return host.FileInfo{}, b.err
}
func (b brokenHost) ReadDir(context.Context, string) ([]host.FileInfo, error) {
	return nil, b.err
}

// TestDetectUnreadableHost: a host that cannot be read decides nothing and
// its errors are reported; the API still decides when it answers.
func TestDetectUnreadableHost(t *testing.T) {
	down := errors.New("ssh: handshake failed")
	h := brokenHost{err: down}
	_, err := Detect(t.Context(), Deps{Host: h}, Options{})
	if !errors.Is(err, ErrUndecided) || !errors.Is(err, down) {
		t.Fatalf("host only: %v, want ErrUndecided carrying the host's error", err)
	}
	d, err := Detect(t.Context(), Deps{Config: fakeConfig(history("4.20.3")), Host: h}, Options{})
	if err != nil || d.Generation != GenerationEtcdOnly || d.Conflict {
		t.Fatalf("with the API: %s, %v; want etcd-only from ClusterVersion", d, err)
	}
	unreadable := 0
	for _, e := range d.Evidence {
		if e.Source == SourceHost && errors.Is(e.Err, down) {
			unreadable++
		}
	}
	if unreadable == 0 {
		t.Errorf("the host's read errors are not in the evidence:\n%s", dump(d))
	}
}
