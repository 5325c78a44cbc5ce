package lifeboat_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// modulePath is the import path of the module docrefs_test.go checks.
const modulePath = "github.com/lifeboat-dev/lifeboat"

// docAPI is what the packages of one name declare (backup and the
// dir backup/offsite are two names; a name can be two dirs, and then a
// reference resolves if either declares it). Only non-test files of
// non-main packages count: that is the API a doc can send a reader to.
type docAPI struct {
	exported   map[string]bool            // top-level exported names
	unexported map[string]bool            // top-level unexported names (for hints)
	types      map[string]bool            // top-level type names
	members    map[string]map[string]bool // type -> exported methods and fields
	embeds     map[string][]embedded      // type -> embedded types and alias targets
	dirs       []string                   // module-relative dirs
}

// embedded is a type whose members another type promotes. pkg is "" for
// the same package, the package name for a lifeboat package, and
// foreign for anything else (its members cannot be checked).
type embedded struct{ pkg, name string }

const foreign = "\x00foreign"

func newDocAPI() *docAPI {
	return &docAPI{
		exported:   map[string]bool{},
		unexported: map[string]bool{},
		types:      map[string]bool{},
		members:    map[string]map[string]bool{},
		embeds:     map[string][]embedded{},
	}
}

// srcFile is one parsed .go file of the module.
type srcFile struct {
	rel  string // module-relative path
	dir  string // module-relative dir
	test bool
	ast  *ast.File
}

// docModule is the module as the doc check sees it.
type docModule struct {
	fset  *token.FileSet
	files []srcFile
	api   map[string]*docAPI // package name -> merged API of non-test files
	byDir map[string]string  // module-relative dir -> package name (non-main)
	// For unqualified doc links, which name the package's own API: per
	// dir, what its non-test files declare (main packages included), and
	// what all its files declare (for links in test files).
	dirProd, dirAll map[string]*docAPI
}

// loadDocModule parses every .go file under root (testdata, hidden
// directories and nested modules excluded) with comments, and indexes the
// declarations of the non-main packages.
func loadDocModule(t *testing.T, root string) *docModule {
	t.Helper()
	m := &docModule{
		fset:    token.NewFileSet(),
		api:     map[string]*docAPI{},
		byDir:   map[string]string{},
		dirProd: map[string]*docAPI{},
		dirAll:  map[string]*docAPI{},
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p == root {
				return nil
			}
			if n := d.Name(); n == "testdata" || strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		f, err := parser.ParseFile(m.fset, p, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		m.files = append(m.files, srcFile{rel: rel, dir: path.Dir(rel), test: strings.HasSuffix(p, "_test.go"), ast: f})
		return nil
	})
	if err != nil {
		t.Fatalf("loading the module's sources: %v", err)
	}
	for _, f := range m.files {
		imports := m.importNames(f.ast)
		for i, idx := range []map[string]*docAPI{m.dirAll, m.dirProd} {
			if f.test && i == 1 {
				continue
			}
			if idx[f.dir] == nil {
				idx[f.dir] = newDocAPI()
			}
			idx[f.dir].addFile(f.ast, imports)
		}
		name := f.ast.Name.Name
		if f.test || name == "main" {
			continue
		}
		a := m.api[name]
		if a == nil {
			a = newDocAPI()
			m.api[name] = a
		}
		if m.byDir[f.dir] == "" {
			m.byDir[f.dir] = name
			a.dirs = append(a.dirs, f.dir)
		}
		a.addFile(f.ast, imports)
	}
	return m
}

// importNames maps the local names of f's imports to the package names
// of lifeboat packages, or to foreign for any other package.
func (m *docModule) importNames(f *ast.File) map[string]string {
	out := map[string]string{}
	for _, im := range f.Imports {
		ip := strings.Trim(im.Path.Value, "`\"")
		local := path.Base(ip)
		if im.Name != nil {
			local = im.Name.Name
		}
		out[local] = foreign
		if ip == modulePath || strings.HasPrefix(ip, modulePath+"/") {
			out[local] = path.Base(ip) // resolved to the package name below
			if ip == modulePath {
				out[local] = "lifeboat"
			}
		}
	}
	return out
}

// addFile records f's top-level declarations, methods, fields and
// embeddings.
func (a *docAPI) addFile(f *ast.File, imports map[string]string) {
	add := func(name string) {
		if ast.IsExported(name) {
			a.exported[name] = true
		} else {
			a.unexported[name] = true
		}
	}
	member := func(typ, name string) {
		if !ast.IsExported(name) {
			return
		}
		if a.members[typ] == nil {
			a.members[typ] = map[string]bool{}
		}
		a.members[typ][name] = true
	}
	embed := func(typ string, e ast.Expr) {
		if ref, ok := typeRef(e, imports); ok {
			a.embeds[typ] = append(a.embeds[typ], ref)
			member(typ, ref.name) // an embedded field is named by its type
		}
	}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil || len(d.Recv.List) == 0 {
				add(d.Name.Name)
				continue
			}
			if ref, ok := typeRef(d.Recv.List[0].Type, imports); ok && ref.pkg == "" {
				member(ref.name, d.Name.Name)
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.ValueSpec:
					for _, id := range s.Names {
						add(id.Name)
					}
				case *ast.TypeSpec:
					name := s.Name.Name
					add(name)
					a.types[name] = true
					if s.Assign.IsValid() {
						embed(name, s.Type)
						continue
					}
					switch tt := s.Type.(type) {
					case *ast.StructType:
						for _, fl := range tt.Fields.List {
							if len(fl.Names) == 0 {
								embed(name, fl.Type)
							}
							for _, id := range fl.Names {
								member(name, id.Name)
							}
						}
					case *ast.InterfaceType:
						for _, fl := range tt.Methods.List {
							if len(fl.Names) == 0 {
								embed(name, fl.Type)
							}
							for _, id := range fl.Names {
								member(name, id.Name)
							}
						}
					default:
						// A defined type over another named type has the
						// fields (not the methods) of it; keep it checkable
						// only when it is a plain local name.
						if ref, ok := typeRef(tt, imports); ok && ref.pkg == foreign {
							a.embeds[name] = append(a.embeds[name], ref)
						}
					}
				}
			}
		}
	}
}

// typeRef names the type expression e: T, *T, T[P], pkg.T.
func typeRef(e ast.Expr, imports map[string]string) (embedded, bool) {
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.ParenExpr:
			e = x.X
		case *ast.Ident:
			return embedded{name: x.Name}, true
		case *ast.SelectorExpr:
			id, ok := x.X.(*ast.Ident)
			if !ok {
				return embedded{}, false
			}
			pkg := imports[id.Name]
			if pkg == "" {
				pkg = foreign
			}
			return embedded{pkg: pkg, name: x.Sel.Name}, true
		default:
			return embedded{}, false
		}
	}
}

// hasMember reports whether type typ of a has member name, directly or
// promoted through embedding; unknown is true when an embedded type
// outside lifeboat could have it.
func (m *docModule) hasMember(a *docAPI, typ, name string, seen map[*docAPI]map[string]bool) (found, unknown bool) {
	if a == nil {
		return false, true
	}
	if seen[a] == nil {
		seen[a] = map[string]bool{}
	}
	if seen[a][typ] {
		return false, false
	}
	seen[a][typ] = true
	if a.members[typ][name] {
		return true, false
	}
	for _, e := range a.embeds[typ] {
		next := a
		switch e.pkg {
		case foreign:
			unknown = true
			continue
		case "":
		default:
			next = m.api[e.pkg]
		}
		f, u := m.hasMember(next, e.name, name, seen)
		if f {
			return true, false
		}
		unknown = unknown || u
	}
	return false, unknown
}
