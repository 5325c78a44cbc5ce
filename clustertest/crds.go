package clustertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"time"
	"unicode"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// The OpenShift CRDs the runbook touches are installed from the
// github.com/openshift/api module's own zz_generated.crd-manifests
// directories, found at run time in the Go module cache (never copied into
// this repository). Of the feature-set variants of a CRD the "Default" one is
// taken (the CRD a cluster without feature gates runs), or the only one.

// ErrCRDsMissing is returned (wrapped) when the github.com/openshift/api
// module or one of its CRD manifests cannot be found. Download the module
// with "go mod download github.com/openshift/api" in a module that requires
// it, or point LIFEBOAT_OPENSHIFT_API_DIR at a checkout.
var ErrCRDsMissing = errors.New("clustertest: OpenShift CRD manifests not found")

const (
	openshiftAPIModule = "github.com/openshift/api"
	// envOpenShiftAPIDir overrides where the openshift/api module is.
	envOpenShiftAPIDir = "LIFEBOAT_OPENSHIFT_API_DIR"
)

// openshiftCRD names one CRD: the module directory of its manifests and its
// plural (file names end in _<plural>[-<feature set>].crd.yaml).
type openshiftCRD struct {
	dir, plural, group string
}

// Name is the CRD's metadata.name.
func (o openshiftCRD) Name() string { return o.plural + "." + o.group }

var openshiftCRDs = []openshiftCRD{
	{"operator/v1/zz_generated.crd-manifests", "etcds", "operator.openshift.io"},
	{"operator/v1/zz_generated.crd-manifests", "kubeapiservers", "operator.openshift.io"},
	{"operator/v1/zz_generated.crd-manifests", "kubecontrollermanagers", "operator.openshift.io"},
	{"operator/v1/zz_generated.crd-manifests", "kubeschedulers", "operator.openshift.io"},
	{"config/v1/zz_generated.crd-manifests", "clusteroperators", "config.openshift.io"},
	{"config/v1/zz_generated.crd-manifests", "clusterversions", "config.openshift.io"},
	{"config/v1/zz_generated.crd-manifests", "proxies", "config.openshift.io"},
	{"config/v1/zz_generated.crd-manifests", "apiservers", "config.openshift.io"},
	{"config/v1/zz_generated.crd-manifests", "infrastructures", "config.openshift.io"},
	{"config/v1/zz_generated.crd-manifests", "networks", "config.openshift.io"},
	{"machine/v1beta1/zz_generated.crd-manifests", "machines", "machine.openshift.io"},
	{"machine/v1/zz_generated.crd-manifests", "controlplanemachinesets", "machine.openshift.io"},
}

var (
	openshiftAPIDirOnce sync.Once
	openshiftAPIDirVal  string
	openshiftAPIDirErr  error
)

// openShiftAPIDir returns the directory of the github.com/openshift/api
// module this program was built with: $LIFEBOAT_OPENSHIFT_API_DIR if set;
// else the module cache directory of the version recorded in the binary's
// build information (GOMODCACHE, "go env GOMODCACHE", $GOPATH/pkg/mod or
// ~/go/pkg/mod), or the replacement directory; else what
// "go list -m github.com/openshift/api" reports in the working directory.
func openShiftAPIDir() (string, error) {
	openshiftAPIDirOnce.Do(func() {
		openshiftAPIDirVal, openshiftAPIDirErr = findOpenShiftAPIDir()
	})
	return openshiftAPIDirVal, openshiftAPIDirErr
}

func findOpenShiftAPIDir() (string, error) {
	if d := os.Getenv(envOpenShiftAPIDir); d != "" {
		if isDir(d) {
			return d, nil
		}
		return "", fmt.Errorf("%w: %s=%s is not a directory", ErrCRDsMissing, envOpenShiftAPIDir, d)
	}
	var tried []string
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path != openshiftAPIModule {
				continue
			}
			if m.Replace != nil {
				if m.Replace.Version == "" {
					if isDir(m.Replace.Path) {
						return m.Replace.Path, nil
					}
					tried = append(tried, m.Replace.Path)
					break
				}
				m = m.Replace
			}
			if cache := moduleCache(); cache != "" {
				d := filepath.Join(cache, escapeModulePath(m.Path)+"@"+m.Version)
				if isDir(d) {
					return d, nil
				}
				tried = append(tried, d)
			}
		}
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", openshiftAPIModule).Output()
	if d := strings.TrimSpace(string(out)); err == nil && d != "" && isDir(d) {
		return d, nil
	}
	tried = append(tried, "go list -m "+openshiftAPIModule)
	return "", fmt.Errorf("%w: tried %s (run \"go mod download %s\" or set %s)", ErrCRDsMissing, strings.Join(tried, ", "), openshiftAPIModule, envOpenShiftAPIDir)
}

// moduleCache is the Go module cache directory, "" if unknown.
func moduleCache() string {
	if d := os.Getenv("GOMODCACHE"); d != "" {
		return d
	}
	if out, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil {
		if d := strings.TrimSpace(string(out)); d != "" {
			return d
		}
	}
	if gp := os.Getenv("GOPATH"); gp != "" {
		return filepath.Join(filepath.SplitList(gp)[0], "pkg", "mod")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, "go", "pkg", "mod")
	}
	return ""
}

// escapeModulePath escapes upper-case letters as the module cache does
// ("!" followed by the lower-case letter).
func escapeModulePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if unicode.IsUpper(r) {
			b.WriteByte('!')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// crdFile picks the manifest of crd in the module at root: the "-Default"
// feature-set variant, or the file without a feature-set suffix.
func crdFile(root string, crd openshiftCRD) (string, error) {
	dir := filepath.Join(root, filepath.FromSlash(crd.dir))
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrCRDsMissing, err)
	}
	re := regexp.MustCompile(`_` + regexp.QuoteMeta(crd.plural) + `(-[A-Za-z]+)*\.crd\.yaml$`)
	var plain, def string
	for _, e := range entries {
		n := e.Name()
		m := re.FindStringSubmatch(n)
		if m == nil {
			continue
		}
		switch {
		case strings.HasSuffix(n, "_"+crd.plural+".crd.yaml"):
			plain = n
		case strings.HasSuffix(n, "-Default.crd.yaml") && !strings.Contains(n, "Hypershift"):
			def = n
		}
	}
	switch {
	case def != "":
		return filepath.Join(dir, def), nil
	case plain != "":
		return filepath.Join(dir, plain), nil
	}
	return "", fmt.Errorf("%w: no manifest for %s in %s", ErrCRDsMissing, crd.Name(), dir)
}

// loadOpenShiftCRDs reads the CRDs to install.
func loadOpenShiftCRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	root, err := openShiftAPIDir()
	if err != nil {
		return nil, err
	}
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, want := range openshiftCRDs {
		file, err := crdFile(root, want)
		if err != nil {
			return nil, err
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCRDsMissing, err)
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 64<<10)
		if err := dec.Decode(crd); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("clustertest: decoding %s: %w", file, err)
		}
		if crd.Name != want.Name() {
			return nil, fmt.Errorf("clustertest: %s holds CRD %q, want %q", file, crd.Name, want.Name())
		}
		out = append(out, crd)
	}
	return out, nil
}

// installCRDs creates the OpenShift CRDs (keeping any that exist) and waits
// until every one is Established.
func (c *Cluster) installCRDs(ctx context.Context, crds []*apiextensionsv1.CustomResourceDefinition) error {
	cs, err := apiextensionsclient.NewForConfig(c.RESTConfig)
	if err != nil {
		return fmt.Errorf("clustertest: apiextensions client: %w", err)
	}
	api := cs.ApiextensionsV1().CustomResourceDefinitions()
	errs := make([]error, len(crds))
	var wg sync.WaitGroup
	for i, crd := range crds {
		wg.Go(func() {
			_, err := api.Create(ctx, crd, metav1.CreateOptions{})
			if err != nil && !apierrors.IsAlreadyExists(err) {
				errs[i] = fmt.Errorf("clustertest: creating CRD %s: %w", crd.Name, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	pending := map[string]bool{}
	for _, crd := range crds {
		pending[crd.Name] = true
	}
	err = wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		list, err := api.List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		for _, crd := range list.Items {
			for _, cond := range crd.Status.Conditions {
				if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
					delete(pending, crd.Name)
				}
			}
		}
		return len(pending) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("clustertest: waiting for CRDs %v to be established: %w", keys(pending), err)
	}
	return nil
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
