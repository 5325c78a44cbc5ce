package lifeboat_test

import (
	"fmt"
	"go/ast"
	"go/doc/comment"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// briefPackages are the lifeboat packages whose names docs use most; the
// check covers every non-main package of the module, these included, and
// fails if one of them is no longer found (the check would then pass by
// checking nothing).
var briefPackages = []string{
	"backup", "offsite", "retention", "freshness", "certs", "clustertest",
	"realnode", "etcdconn", "etcdtest", "host", "debugpod", "hosttest",
	"lifecycle", "member", "plan", "release", "restore", "inprocess", "lifeboat",
}

// docRef is one reference a doc makes to lifeboat API.
type docRef struct {
	pos  string // file:line
	text string // as written, e.g. backup.Snapshot or [plan.Plan.Run]
	pkg  string // package name; "" for an unqualified doc link
	dir  string // the dir whose API an unqualified link names
	test bool   // the link is in a test file
	// local: an unqualified Type.Member in prose, checked only when Type
	// is a type of the package (exported, or unexported since: State.Undo
	// after State became state).
	local bool
	name  string
	mem   string // member of name, or ""
}

// TestDocsNameExistingAPI fails when README.md, a doc comment (package,
// declaration, field, in any package of the module, examples/ and
// internal/ included) or the comments of an Example function name
// lifeboat API that does not exist: a qualified reference pkg.Name or
// pkg.Name.Member where pkg is a lifeboat package name, or a Go doc link
// (Name, Name.Member or pkg.Name in brackets). Issue 12 renamed, merged and
// unexported much of the API; docs that still name the old API send a
// reader on the worst day of their cluster to something that is not there.
func TestDocsNameExistingAPI(t *testing.T) {
	m := loadDocModule(t, ".")
	for _, p := range briefPackages {
		if m.api[p] == nil {
			t.Errorf("package %s not found: the doc check would not check its references", p)
		}
	}
	var refs []docRef
	qualified := qualifiedRefPattern(m)
	for _, f := range m.files {
		for _, g := range docGroups(f) {
			refs = append(refs, m.groupRefs(f, g, qualified)...)
		}
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(readme), "\n") {
		refs = append(refs, qualifiedRefs(fmt.Sprintf("README.md:%d", i+1), line, qualified)...)
	}
	if len(refs) < 100 {
		t.Errorf("found only %d references to lifeboat API in the docs; the scan is broken", len(refs))
	}
	var broken []string
	seen := map[string]bool{}
	for _, r := range refs {
		hint, ok := m.resolve(r)
		if ok {
			continue
		}
		msg := fmt.Sprintf("%s: %s does not exist", r.pos, r.text)
		if hint != "" {
			msg += " (" + hint + ")"
		}
		if !seen[msg] {
			seen[msg] = true
			broken = append(broken, msg)
		}
	}
	sort.Strings(broken)
	if len(broken) > 0 {
		t.Errorf("%d doc references name API that does not exist:\n%s", len(broken), strings.Join(broken, "\n"))
	}
	t.Logf("checked %d references", len(refs))
}

// qualifiedRefPattern matches pkg.Name and pkg.Name.Member for the
// module's package names: pkg must not continue an identifier or a
// selector (x.plan.Steps), and Name and Member start upper-case, so prose
// such as "the backup. Next" is not a reference.
func qualifiedRefPattern(m *docModule) *regexp.Regexp {
	var names []string
	for n := range m.api {
		names = append(names, regexp.QuoteMeta(n))
	}
	sort.Strings(names)
	return regexp.MustCompile(`(?:^|[^\w.])(` + strings.Join(names, "|") + `)\.([A-Z]\w*)(?:\.([A-Z]\w*))?\b`)
}

// localRefPattern matches an unqualified Type.Member in prose (not in a
// doc link, not after a package or a selector).
var localRefPattern = regexp.MustCompile(`(?:^|[^\w.\[*])([A-Z]\w*)\.([A-Z]\w*)\b`)

func qualifiedRefs(pos, line string, re *regexp.Regexp) []docRef {
	var out []docRef
	for _, s := range re.FindAllStringSubmatch(line, -1) {
		text := s[1] + "." + s[2]
		if s[3] != "" {
			text += "." + s[3]
		}
		out = append(out, docRef{pos: pos, text: text, pkg: s[1], name: s[2], mem: s[3]})
	}
	return out
}

// docGroups returns the comment groups of f that are documentation: in
// every file the package comment and the doc and line comments of every
// declaration, spec and field (bodies excluded); in an Example function
// every comment of its body too, except its output block.
func docGroups(f srcFile) []*ast.CommentGroup {
	var out []*ast.CommentGroup
	add := func(gs ...*ast.CommentGroup) {
		for _, g := range gs {
			if g != nil {
				out = append(out, g)
			}
		}
	}
	add(f.ast.Doc)
	fields := func(n ast.Node) {
		ast.Inspect(n, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.Field:
				add(n.Doc, n.Comment)
			case *ast.TypeSpec:
				add(n.Doc, n.Comment)
			case *ast.ValueSpec:
				add(n.Doc, n.Comment)
			case *ast.FuncLit:
				return false
			}
			return true
		})
	}
	for _, d := range f.ast.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			add(d.Doc)
			if d.Recv != nil {
				fields(d.Recv)
			}
			fields(d.Type)
			if f.test && strings.HasPrefix(d.Name.Name, "Example") && d.Body != nil {
				for _, g := range f.ast.Comments {
					if g.Pos() > d.Body.Lbrace && g.End() < d.Body.Rbrace {
						add(g)
					}
				}
			}
		case *ast.GenDecl:
			add(d.Doc)
			fields(d)
		}
	}
	return out
}

// isOutput reports whether a comment line starts an example's output
// block, which is program output, not documentation.
func isOutput(line string) bool {
	l := strings.ToLower(strings.TrimSpace(line))
	return strings.HasPrefix(l, "output:") || strings.HasPrefix(l, "unordered output:")
}

// groupRefs returns the qualified references and doc links in g.
func (m *docModule) groupRefs(f srcFile, g *ast.CommentGroup, qualified *regexp.Regexp) []docRef {
	type rawLine struct {
		line int
		text string
	}
	var lines []rawLine
	output := false // the rest of g is an example's output
	for _, c := range g.List {
		text := c.Text
		if strings.HasPrefix(text, "//") {
			text = text[2:]
		} else {
			text = strings.TrimSuffix(strings.TrimPrefix(text, "/*"), "*/")
		}
		start := m.fset.Position(c.Pos()).Line
		for i, l := range strings.Split(text, "\n") {
			if f.test && isOutput(l) {
				output = true
				break
			}
			lines = append(lines, rawLine{start + i, l})
		}
		if output {
			break
		}
	}
	if len(lines) == 0 {
		return nil
	}
	pos := func(line int) string { return fmt.Sprintf("%s:%d", f.rel, line) }
	var out []docRef
	for _, l := range lines {
		out = append(out, qualifiedRefs(pos(l.line), l.text, qualified)...)
		if f.test {
			continue
		}
		for _, s := range localRefPattern.FindAllStringSubmatch(l.text, -1) {
			out = append(out, docRef{pos: pos(l.line), text: s[1] + "." + s[2], dir: f.dir, local: true, name: s[1], mem: s[2]})
		}
	}
	// Doc links as go doc finds them: every [Name] or [Name.Member] is
	// taken for a link (LookupSym says yes) so that one naming nothing
	// is reported rather than silently shown as plain text.
	p := comment.Parser{
		LookupPackage: func(name string) (string, bool) {
			if m.api[name] != nil {
				return "lifeboat:" + name, true
			}
			return "", false
		},
		LookupSym: func(recv, name string) bool { return true },
	}
	var text strings.Builder
	for _, l := range lines {
		text.WriteString(strings.TrimPrefix(l.text, " ") + "\n")
	}
	for _, l := range docLinks(p.Parse(text.String())) {
		if l.Name == "" {
			continue // a link to a package, [backup]: LookupPackage found it
		}
		r := docRef{name: l.Name, mem: "", test: f.test}
		text := l.Name
		if l.Recv != "" {
			r.name, r.mem = l.Recv, l.Name
			text = l.Recv + "." + l.Name
		}
		switch {
		case l.ImportPath == "":
			r.dir = f.dir
		case strings.HasPrefix(l.ImportPath, "lifeboat:"):
			r.pkg = strings.TrimPrefix(l.ImportPath, "lifeboat:")
		case l.ImportPath == modulePath:
			r.pkg = "lifeboat"
		case strings.HasPrefix(l.ImportPath, modulePath+"/"):
			r.pkg = m.byDir[strings.TrimPrefix(l.ImportPath, modulePath+"/")]
			if r.pkg == "" {
				r.pkg = l.ImportPath // not a package of the module: reported
			}
		default:
			continue
		}
		line := lines[0].line
		for _, rl := range lines {
			if strings.Contains(rl.text, text+"]") {
				line = rl.line
				break
			}
		}
		r.pos = pos(line)
		r.text = "[" + text + "]"
		if r.pkg != "" {
			r.text = "[" + r.pkg + "." + text + "]"
		}
		out = append(out, r)
	}
	return out
}

// docLinks returns the doc links in d.
func docLinks(d *comment.Doc) []*comment.DocLink {
	var out []*comment.DocLink
	var walk func([]comment.Text)
	walk = func(ts []comment.Text) {
		for _, t := range ts {
			switch t := t.(type) {
			case *comment.DocLink:
				out = append(out, t)
			case *comment.Link:
				walk(t.Text)
			case *comment.Italic, comment.Plain:
			}
		}
	}
	for _, b := range d.Content {
		switch b := b.(type) {
		case *comment.Paragraph:
			walk(b.Text)
		case *comment.Heading:
			walk(b.Text)
		case *comment.List:
			for _, it := range b.Items {
				for _, ib := range it.Content {
					if p, ok := ib.(*comment.Paragraph); ok {
						walk(p.Text)
					}
				}
			}
		}
	}
	return out
}
