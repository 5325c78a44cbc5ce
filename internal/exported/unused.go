package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// user is one package that names an exported identifier of another.
type user struct {
	dir     string // the using file's directory, relative to the root
	test    bool   // the use is in a _test.go file
	example bool   // the use is in an example_test.go file
}

// usesByImport walks every .go file under root (tests, examples and
// internal packages included; testdata excluded) and records, for each
// import path of the module and each exported name selected through it
// (pkg.Name), who uses it. A package's internal test files name their own
// identifiers without a selector and do not count; its external _test
// package imports it and does count.
func usesByImport(root, module string) (map[string]map[string][]user, error) {
	uses := map[string]map[string][]user{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "testdata", ".git":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		names := map[string]string{} // local name -> import path
		for _, im := range f.Imports {
			ip, _ := strconv.Unquote(im.Path.Value)
			if ip != module && !strings.HasPrefix(ip, module+"/") {
				continue
			}
			local := path.Base(ip)
			if im.Name != nil {
				local = im.Name.Name
			}
			names[local] = ip
		}
		rel, _ := filepath.Rel(root, filepath.Dir(p))
		base := filepath.Base(p)
		u := user{dir: rel, test: strings.HasSuffix(base, "_test.go"), example: base == "example_test.go"}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			id, ok := sel.X.(*ast.Ident)
			if !ok {
				return true
			}
			ip, ok := names[id.Name]
			if !ok || !sel.Sel.IsExported() {
				return true
			}
			if uses[ip] == nil {
				uses[ip] = map[string][]user{}
			}
			uses[ip][sel.Sel.Name] = append(uses[ip][sel.Sel.Name], u)
			return true
		})
		return nil
	})
	return uses, err
}

// reportUnused prints, per library package, each exported top-level name
// with a summary of who outside the package names it: "-" for nobody,
// "own-test" when only the package's external tests do, "example" when its
// example_test.go does, otherwise the using directories.
func reportUnused(root, dir string, c counts, uses map[string]map[string][]user, module string) {
	rel, _ := filepath.Rel(root, dir)
	ip := module
	if rel != "." {
		ip = module + "/" + filepath.ToSlash(rel)
	}
	for _, full := range c.names {
		name := full[strings.LastIndex(full, " ")+1:]
		var others []string
		seen := map[string]bool{}
		own, example := false, false
		for _, u := range uses[ip][name] {
			if u.dir == rel {
				own = true
				example = example || u.example
				continue
			}
			k := u.dir
			if u.test {
				k += "(test)"
			}
			if !seen[k] {
				seen[k] = true
				others = append(others, k)
			}
		}
		sort.Strings(others)
		var s string
		switch {
		case len(others) > 0:
			s = strings.Join(others, " ")
			if example {
				s = "example " + s
			}
		case example:
			s = "example"
		case own:
			s = "own-test"
		default:
			s = "-"
		}
		fmt.Printf("    %-40s %s\n", full, s)
	}
}

func moduleName(root string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "module ") {
			return strings.TrimSpace(strings.TrimPrefix(l, "module ")), nil
		}
	}
	return "", fmt.Errorf("no module line in %s/go.mod", root)
}
