package lifeboat_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDocsRefMatching pins what the doc check takes for a reference to
// lifeboat API in a doc comment, and what it leaves alone.
func TestDocsRefMatching(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{"qualified", "backup.Snapshot streams.", []string{"backup.Snapshot"}},
		{"qualified member", "see backup.SnapshotOptions.Logger.", []string{"backup.SnapshotOptions.Logger"}},
		{"import path", "github.com/lifeboat-dev/lifeboat/backup.Snapshot", []string{"backup.Snapshot"}},
		{"sentence end", "after the backup. Next the restore.", nil},
		{"lower-case member", "the backup.go file and plan.steps", nil},
		{"selector of a value", "x.plan.Steps and mybackup.Snapshot", nil},
		{"other package", "errors.Is and clientv3.Client", nil},
		{"doc link", "see [Plan.Run] and [backup.Snapshot].", []string{"[Plan.Run]", "[backup.Snapshot]", "backup.Snapshot"}},
		{"unqualified link", "see [Plan].", []string{"[Plan]"}},
		{"not a doc link", "x[i], [RFC 1234], map[string]int", nil},
		{"local member", "Plan.Run runs it.", []string{"Plan.Run"}},
		{"code block", "Use:\n\n\tp, err := backup.Plan(deps, opts)", []string{"backup.Plan"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := "package plan\n\n"
			for _, l := range strings.Split(tc.doc, "\n") {
				src += "// " + l + "\n"
			}
			src += "type Plan struct{}\n"
			m := &docModule{fset: token.NewFileSet(), api: map[string]*docAPI{"backup": newDocAPI(), "plan": newDocAPI()}}
			f, err := parser.ParseFile(m.fset, "plan.go", src, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			sf := srcFile{rel: "plan/plan.go", dir: "plan", ast: f}
			var got []string
			for _, g := range docGroups(sf) {
				for _, r := range m.groupRefs(sf, g, qualifiedRefPattern(m)) {
					got = append(got, r.text)
				}
			}
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("refs in %q = %q, want %q", tc.doc, got, want)
			}
		})
	}
}

// TestDocsRefResolution pins how a reference resolves against a module
// loaded from disk: exported names, methods and fields, promotion through
// embedding, interface methods, and the hints of a broken one.
func TestDocsRefResolution(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"backup/backup.go": `package backup

import "log/slog"

type Base struct{ Now func() }

type SnapshotOptions struct {
	Base
	*slog.Logger
	Dir string
}

func (o SnapshotOptions) Validate() error { return nil }

func Snapshot() {}

func folders() {}

type state struct{}
`,
		"backup/offsite/offsite.go": "package offsite\n\nfunc Upload() {}\n",
		"backup/extra_test.go":      "package backup\n\nfunc TestOnly() {}\n",
		"host/host.go": `package host

type Host interface{ RestartKubelet() error }
`,
	}
	for name, src := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := loadDocModule(t, root)
	tests := []struct {
		name     string
		ref      docRef
		ok       bool
		wantHint string
	}{
		{"top-level", docRef{pkg: "backup", name: "Snapshot"}, true, ""},
		{"method", docRef{pkg: "backup", name: "SnapshotOptions", mem: "Validate"}, true, ""},
		{"field", docRef{pkg: "backup", name: "SnapshotOptions", mem: "Dir"}, true, ""},
		{"promoted field", docRef{pkg: "backup", name: "SnapshotOptions", mem: "Now"}, true, ""},
		{"embedded field", docRef{pkg: "backup", name: "SnapshotOptions", mem: "Base"}, true, ""},
		{"through a foreign embed", docRef{pkg: "backup", name: "SnapshotOptions", mem: "Info"}, true, ""},
		{"interface method", docRef{pkg: "host", name: "Host", mem: "RestartKubelet"}, true, ""},
		{"nested package", docRef{pkg: "offsite", name: "Upload"}, true, ""},
		{"unexported", docRef{pkg: "backup", name: "Folders"}, false, "unexported: folders"},
		{"test-only name", docRef{pkg: "backup", name: "TestOnly"}, false, ""},
		{"method as package func", docRef{pkg: "host", name: "RestartKubelet"}, false, ""},
		{"other package", docRef{pkg: "backup", name: "Upload"}, false, "declared as offsite.Upload"},
		{"close name", docRef{pkg: "backup", name: "Snapshots"}, false, "closest: Snapshot"},
		{"missing member", docRef{pkg: "host", name: "Host", mem: "Restart"}, false, "Host has RestartKubelet"},
		{"no such package", docRef{pkg: "nosuch", name: "X"}, false, "no such package in the module"},
		{"unqualified", docRef{dir: "backup", name: "SnapshotOptions", mem: "Dir"}, true, ""},
		{"unqualified in a test", docRef{dir: "backup", test: true, name: "TestOnly"}, true, ""},
		{"local, type unexported since", docRef{dir: "backup", local: true, name: "State", mem: "Undo"}, false, "unexported: state"},
		{"local, not a type here", docRef{dir: "backup", local: true, name: "ClusterVersion", mem: "Status"}, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hint, ok := m.resolve(tc.ref)
			if ok != tc.ok || hint != tc.wantHint {
				t.Errorf("resolve(%+v) = %q, %v; want %q, %v", tc.ref, hint, ok, tc.wantHint, tc.ok)
			}
		})
	}
}
