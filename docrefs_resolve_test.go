package lifeboat_test

import (
	"fmt"
	"sort"
	"strings"
)

// resolve reports whether r names declared API and, when not, a hint: the
// name unexported, declared in another package, or a close existing name.
func (m *docModule) resolve(r docRef) (hint string, ok bool) {
	var a *docAPI
	switch {
	case r.dir != "" && r.test:
		a = m.dirAll[r.dir]
	case r.dir != "":
		a = m.dirProd[r.dir]
	default:
		a = m.api[r.pkg]
		if a == nil {
			return "no such package in the module", false
		}
	}
	if a == nil {
		return "", false
	}
	if r.local && !a.types[r.name] {
		lower := strings.ToLower(r.name[:1]) + r.name[1:]
		if a.types[lower] {
			return "unexported: " + lower, false
		}
		return "", true // not a type of this package: another's, or prose
	}
	if !a.exported[r.name] {
		return m.nameHint(a, r), false
	}
	if r.mem == "" || !a.types[r.name] {
		// A member of a func, var or const (a method of its type) is
		// not checked.
		return "", true
	}
	found, unknown := m.hasMember(a, r.name, r.mem, map[*docAPI]map[string]bool{})
	if found || unknown {
		return "", true
	}
	var have []string
	for n := range a.members[r.name] {
		have = append(have, n)
	}
	if c := closest(r.mem, have); c != "" {
		return fmt.Sprintf("%s has %s", r.name, c), false
	}
	return fmt.Sprintf("%s has no method or field %s", r.name, r.mem), false
}

func (m *docModule) nameHint(a *docAPI, r docRef) string {
	lower := strings.ToLower(r.name[:1]) + r.name[1:]
	if a.unexported[lower] {
		return "unexported: " + lower
	}
	var elsewhere []string
	for pkg, other := range m.api {
		if other != a && other.exported[r.name] {
			elsewhere = append(elsewhere, pkg+"."+r.name)
		}
	}
	if len(elsewhere) > 0 {
		sort.Strings(elsewhere)
		return "declared as " + strings.Join(elsewhere, ", ")
	}
	var have []string
	for n := range a.exported {
		have = append(have, n)
	}
	if c := closest(r.name, have); c != "" {
		return "closest: " + c
	}
	return ""
}

// closest returns the name in have nearest to want: one that contains it
// or that it contains, else the one at the smallest edit distance if that
// is at most a third of want's length; "" if none is close.
func closest(want string, have []string) string {
	sort.Strings(have)
	best, bestD := "", len(want)/3+1
	for _, h := range have {
		if len(want) >= 4 && len(h) >= 4 && (strings.Contains(h, want) || strings.Contains(want, h)) {
			return h
		}
		if d := editDistance(strings.ToLower(want), strings.ToLower(h)); d < bestD {
			best, bestD = h, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
