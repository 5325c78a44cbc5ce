// Command exported counts the exported identifiers of lifeboat's library
// packages, the API an embedder can name. hack/exported.sh runs it.
//
// Library packages are every non-main package of the module outside
// internal/ directories, examples/ and testdata/, clustertest included (it is
// a library for embedders' tests). Only non-test .go files count.
//
// Per package it prints:
//
//	top     exported top-level funcs, types, vars and consts
//	methods exported methods of exported types, and exported methods of
//	        exported interfaces
//	fields  exported fields of exported struct types (embedded types count)
//
// and a total line. With -v it lists every top-level identifier counted.
// With -unused it lists them too, each with who outside its package names
// it (pkg.Name through an import, in any .go file of the module, tests and
// examples included): the using directories ("(test)" when only in test
// files), "example" when the package's example_test.go does, "own-test"
// when only the package's external tests do, "-" for nobody. Those are the
// candidates for unexporting (issue 12 item 5); a name that appears in an
// exported signature or that the package documents for callers (an error
// to match, an option's type) stays exported even when nobody names it yet.
package main

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

type counts struct {
	top, methods, fields int
	names                []string
}

func main() {
	verbose := flag.Bool("v", false, "list the top-level identifiers counted")
	unused := flag.Bool("unused", false, "list the top-level identifiers with who outside their package names them (- for nobody)")
	root := flag.String("root", ".", "module root")
	flag.Parse()
	if err := run(*root, *verbose, *unused); err != nil {
		fmt.Fprintln(os.Stderr, "exported:", err)
		os.Exit(1)
	}
}

func run(root string, verbose, unused bool) error {
	var uses map[string]map[string][]user
	var module string
	if unused {
		var err error
		if module, err = moduleName(root); err != nil {
			return err
		}
		if uses, err = usesByImport(root, module); err != nil {
			return err
		}
	}
	dirs := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "internal", "examples", "testdata", "tools", "hack", ".git":
				if path != root {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			dirs[filepath.Dir(path)] = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	var keys []string
	for d := range dirs {
		keys = append(keys, d)
	}
	sort.Strings(keys)
	var total counts
	fmt.Printf("%-28s %5s %7s %6s\n", "package", "top", "methods", "fields")
	for _, d := range keys {
		c, isMain, err := countDir(d)
		if err != nil {
			return err
		}
		if isMain {
			continue
		}
		rel, _ := filepath.Rel(root, d)
		if rel == "." {
			rel = "(root)"
		}
		fmt.Printf("%-28s %5d %7d %6d\n", rel, c.top, c.methods, c.fields)
		if unused {
			reportUnused(root, d, c, uses, module)
		} else if verbose {
			for _, n := range c.names {
				fmt.Printf("    %s\n", n)
			}
		}
		total.top += c.top
		total.methods += c.methods
		total.fields += c.fields
	}
	fmt.Printf("%-28s %5d %7d %6d\n", "total", total.top, total.methods, total.fields)
	return nil
}

func countDir(dir string) (counts, bool, error) {
	var c counts
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return c, false, err
	}
	isMain := false
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.SkipObjectResolution)
		if err != nil {
			return c, false, err
		}
		if f.Name.Name == "main" {
			isMain = true
			continue
		}
		countFile(f, &c)
	}
	sort.Strings(c.names)
	return c, isMain, nil
}

func countFile(f *ast.File, c *counts) {
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if !d.Name.IsExported() {
				continue
			}
			if d.Recv == nil {
				c.top++
				c.names = append(c.names, "func "+d.Name.Name)
				continue
			}
			if recvExported(d.Recv.List[0].Type) {
				c.methods++
			}
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					if !s.Name.IsExported() {
						continue
					}
					c.top++
					c.names = append(c.names, "type "+s.Name.Name)
					switch t := s.Type.(type) {
					case *ast.StructType:
						c.fields += exportedFields(t.Fields)
					case *ast.InterfaceType:
						c.methods += exportedFields(t.Methods)
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.IsExported() {
							c.top++
							c.names = append(c.names, d.Tok.String()+" "+n.Name)
						}
					}
				}
			}
		}
	}
}

// exportedFields counts the exported names in a field list; an embedded
// field counts when its type name is exported.
func exportedFields(fl *ast.FieldList) int {
	n := 0
	for _, f := range fl.List {
		if len(f.Names) == 0 {
			if recvExported(f.Type) {
				n++
			}
			continue
		}
		for _, name := range f.Names {
			if name.IsExported() {
				n++
			}
		}
	}
	return n
}

func recvExported(t ast.Expr) bool {
	for {
		switch x := t.(type) {
		case *ast.StarExpr:
			t = x.X
		case *ast.IndexExpr:
			t = x.X
		case *ast.IndexListExpr:
			t = x.X
		case *ast.SelectorExpr:
			return x.Sel.IsExported()
		case *ast.Ident:
			return x.IsExported()
		default:
			return false
		}
	}
}
