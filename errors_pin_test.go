package lifeboat_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// errorTargets returns the exported error sentinels (package-level vars
// named Err*) and typed errors (exported types named *Error) declared in
// the non-test files of the package in dir.
func errorTargets(t *testing.T, dir string) []string {
	t.Helper()
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok {
				continue
			}
			for _, s := range g.Specs {
				switch s := s.(type) {
				case *ast.ValueSpec:
					if g.Tok != token.VAR {
						continue
					}
					for _, id := range s.Names {
						if id.IsExported() && strings.HasPrefix(id.Name, "Err") {
							names = append(names, id.Name)
						}
					}
				case *ast.TypeSpec:
					if s.Name.IsExported() && strings.HasSuffix(s.Name.Name, "Error") {
						names = append(names, s.Name.Name)
					}
				}
			}
		}
	}
	sort.Strings(names)
	return names
}

// pinned returns every identifier errors_test.go in dir names, alone or
// as the selector of a qualified name (backup.ErrTruncated).
func pinned(t *testing.T, dir string) (map[string]bool, bool) {
	t.Helper()
	path := filepath.Join(dir, "errors_test.go")
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if os.IsNotExist(err) {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok {
			seen[id.Name] = true
		}
		return true
	})
	return seen, true
}

// libraryDirs lists the directories of the library packages: every
// directory holding non-test Go files, except examples, internal
// packages, testdata and the hack scripts.
func libraryDirs(t *testing.T) []string {
	t.Helper()
	var dirs []string
	seen := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "examples", "internal", "testdata", "hack", ".git", "demo":
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			if dir := filepath.Dir(path); !seen[dir] {
				seen[dir] = true
				dirs = append(dirs, dir)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

// TestEveryErrorTargetIsPinned: each library package's errors_test.go
// names every exported Err* sentinel and *Error type the package
// declares, so a new one cannot be added without a test that produces it
// and checks it with errors.Is / errors.As (package lifeboat, Errors).
func TestEveryErrorTargetIsPinned(t *testing.T) {
	for _, dir := range libraryDirs(t) {
		targets := errorTargets(t, dir)
		if len(targets) == 0 {
			continue
		}
		seen, ok := pinned(t, dir)
		if !ok {
			t.Errorf("%s declares %v but has no errors_test.go", dir, targets)
			continue
		}
		for _, name := range targets {
			if !seen[name] {
				t.Errorf("%s: %s is not pinned in errors_test.go", dir, name)
			}
		}
	}
}
