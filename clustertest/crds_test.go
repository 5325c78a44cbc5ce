package clustertest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestCRDFileSelection(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files []string
		want  string // "" means ErrCRDsMissing
	}{
		{
			name: "Default variant among feature sets",
			files: []string{
				"0000_12_etcd_01_etcds-CustomNoUpgrade.crd.yaml",
				"0000_12_etcd_01_etcds-Default.crd.yaml",
				"0000_12_etcd_01_etcds-TechPreviewNoUpgrade.crd.yaml",
				"0000_12_etcd_01_etcds-OKD.crd.yaml",
			},
			want: "0000_12_etcd_01_etcds-Default.crd.yaml",
		},
		{
			name:  "single file without feature sets",
			files: []string{"0000_25_kube-scheduler_01_etcds.crd.yaml", "0000_25_other_01_etcdsx.crd.yaml"},
			want:  "0000_25_kube-scheduler_01_etcds.crd.yaml",
		},
		{
			name:  "topology variants: the self-managed Default",
			files: []string{"0000_10_x_01_etcds-Hypershift-Default.crd.yaml", "0000_10_x_01_etcds-SelfManagedHA-Default.crd.yaml"},
			want:  "0000_10_x_01_etcds-SelfManagedHA-Default.crd.yaml",
		},
		{
			name:  "another plural with the same suffix is not taken",
			files: []string{"0000_20_kube-apiserver_01_kubeetcds-Default.crd.yaml"},
		},
		{
			name: "no manifest",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "operator", "v1", "zz_generated.crd-manifests")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, f := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := crdFile(root, openshiftCRD{"operator/v1/zz_generated.crd-manifests", "etcds", "operator.openshift.io"})
			if tc.want == "" {
				if !errors.Is(err, ErrCRDsMissing) {
					t.Fatalf("crdFile = %q, %v; want ErrCRDsMissing", got, err)
				}
				return
			}
			if err != nil || got != filepath.Join(dir, tc.want) {
				t.Fatalf("crdFile = %q, %v; want %s", got, err, tc.want)
			}
		})
	}
}

func TestLoadOpenShiftCRDs(t *testing.T) {
	dir, err := openShiftAPIDir()
	if err != nil {
		t.Fatal(err) // the module is a dependency of this one: it must be found
	}
	crds, err := loadOpenShiftCRDs()
	if err != nil {
		t.Fatal(err)
	}
	if len(crds) != len(openshiftCRDs) {
		t.Fatalf("%d CRDs from %s, want %d", len(crds), dir, len(openshiftCRDs))
	}
	for i, crd := range crds {
		if crd.Name != openshiftCRDs[i].Name() {
			t.Errorf("CRD %d is %s, want %s", i, crd.Name, openshiftCRDs[i].Name())
		}
		if fs := crd.Annotations["release.openshift.io/feature-set"]; fs != "" && fs != "Default" {
			t.Errorf("CRD %s: feature set %q", crd.Name, fs)
		}
		if len(crd.Spec.Versions) == 0 {
			t.Errorf("CRD %s has no versions", crd.Name)
		}
	}
}

func TestOpenShiftAPIDirOverride(t *testing.T) {
	t.Setenv(envOpenShiftAPIDir, filepath.Join(t.TempDir(), "missing"))
	if _, err := findOpenShiftAPIDir(); !errors.Is(err, ErrCRDsMissing) {
		t.Fatalf("missing override: %v, want ErrCRDsMissing", err)
	}
	d := t.TempDir()
	t.Setenv(envOpenShiftAPIDir, d)
	if got, err := findOpenShiftAPIDir(); err != nil || got != d {
		t.Fatalf("override: %q, %v", got, err)
	}
}

func TestEscapeModulePath(t *testing.T) {
	for in, want := range map[string]string{
		"github.com/openshift/api":      "github.com/openshift/api",
		"github.com/BurntSushi/toml":    "github.com/!burnt!sushi/toml",
		"example.com/UPPER/lower/Mixed": "example.com/!u!p!p!e!r/lower/!mixed",
	} {
		if got := escapeModulePath(in); got != want {
			t.Errorf("escapeModulePath(%q) = %q, want %q", in, got, want)
		}
	}
}
