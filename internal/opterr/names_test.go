package opterr_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The forms an option name takes (lifeboat.OptionsError.Option):
// "pkg.Struct.Field" (deeper for a field of a field), "pkg.Struct" for a
// nil options struct or receiver, "pkg.Func arg" for an argument of a
// function, or the name of an environment variable.
var (
	qualifiedName = regexp.MustCompile(`^[a-z][a-z0-9]*(\.[A-Z][A-Za-z0-9]*)+( [a-z][A-Za-z0-9]*)?$`)
	envName       = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$`)
	// qualifiedField finds the fields a reason names, e.g.
	// "restore.Options.BackupDir".
	qualifiedField = regexp.MustCompile(`\b[a-z][a-z0-9]*(\.[A-Z][A-Za-z0-9]*){2,}`)
	// qualifiedPrefix is the literal left of a "+" that builds a name,
	// e.g. "retention.Policy."+field.
	qualifiedPrefix = regexp.MustCompile(`^[a-z][a-z0-9]*(\.[A-Z][A-Za-z0-9]*)*\.$`)
)

const opterrPath = "github.com/lifeboat-dev/lifeboat/internal/opterr"

// validName reports whether lit, the first argument of opterr.New or
// opterr.Nil given as a string literal, is in a documented form. ""
// (a combination of fields, named in the reason) is allowed for New only.
func validName(lit string, allowEmpty bool) bool {
	if lit == "" {
		return allowEmpty
	}
	return qualifiedName.MatchString(lit) || envName.MatchString(lit)
}

func TestValidName(t *testing.T) {
	for _, tc := range []struct {
		name       string
		lit        string
		allowEmpty bool
		want       bool
	}{
		{"field", "backup.TakeOptions.Dir", false, true},
		{"field of a field", "offsite.UploadOptions.Destination.URL", false, true},
		{"nil struct", "offsite.UploadOptions", false, true},
		{"argument", "retention.Apply store", false, true},
		{"env var", "ETCDCTL_DIAL_TIMEOUT", false, true},
		{"combination in New", "", true, true},
		{"empty in Nil", "", false, false},
		{"unqualified field", "Version", false, false},
		{"struct without package", "PushOptions.URL", false, false},
		{"package only", "backup", false, false},
		{"unexported field", "backup.TakeOptions.dir", false, false},
		{"sentence", "nil Recorder", false, false},
		{"capitalised package", "Backup.TakeOptions.Dir", false, false},
		{"argument without function", "offsite.UploadOptions id", false, true},
		{"two arguments", "offsite.Fetch id dir", false, false},
		{"one-word caps", "VERSION", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := validName(tc.lit, tc.allowEmpty); got != tc.want {
				t.Errorf("validName(%q, %v) = %v, want %v", tc.lit, tc.allowEmpty, got, tc.want)
			}
		})
	}
}

// TestOptionNamesInTheModule parses every non-test Go file of the module
// and checks the option name of each opterr.New, opterr.Nil and
// opterr.Negative call given
// as a string literal (or a literal prefix joined with "+"), so that the
// form documented on lifeboat.OptionsError cannot drift.
func TestOptionNamesInTheModule(t *testing.T) {
	root := filepath.Join("..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found: %v", err)
	}
	fset := token.NewFileSet()
	calls := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_") || n == "testdata" || n == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		local := ""
		for _, im := range f.Imports {
			if p, _ := strconv.Unquote(im.Path.Value); p == opterrPath {
				local = "opterr"
				if im.Name != nil {
					local = im.Name.Name
				}
			}
		}
		if local == "" {
			return nil
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); !ok || id.Name != local || (sel.Sel.Name != "New" && sel.Sel.Name != "Nil" && sel.Sel.Name != "Negative") {
				return true
			}
			calls++
			pos := fset.Position(call.Pos())
			switch a := call.Args[0].(type) {
			case *ast.BasicLit:
				s, err := strconv.Unquote(a.Value)
				if err != nil || !validName(s, sel.Sel.Name == "New") {
					t.Errorf("%s: %s.%s(%s): not an option name in the documented form (pkg.Struct.Field, pkg.Struct, \"pkg.Func arg\", an env var; \"\" in New for a combination named in the reason)",
						pos, local, sel.Sel.Name, a.Value)
				}
				if s == "" && len(call.Args) > 1 {
					if f, ok := call.Args[1].(*ast.BasicLit); ok && len(qualifiedField.FindAllString(f.Value, -1)) < 2 {
						t.Errorf("%s: %s.New(\"\", %s): a refusal of a combination names every field of it, qualified (pkg.Struct.Field)", pos, local, f.Value)
					}
				}
			case *ast.BinaryExpr:
				if l, ok := a.X.(*ast.BasicLit); ok && a.Op == token.ADD {
					s, err := strconv.Unquote(l.Value)
					if err != nil || !qualifiedPrefix.MatchString(s) {
						t.Errorf("%s: %s.%s(%s+...): the name's prefix is not \"pkg.Struct.\"", pos, local, sel.Sel.Name, l.Value)
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The module makes well over a hundred refusals: finding few means the
	// walk or the import match broke, not that the names are right.
	if calls < 100 {
		t.Fatalf("found %d opterr calls, want at least 100", calls)
	}
	t.Logf("%d opterr calls checked", calls)
}
