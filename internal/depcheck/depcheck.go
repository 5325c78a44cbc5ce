// Package depcheck pins which modules a lifeboat package may pull in, for
// the tests that keep light packages light (issue 12: importing restore to
// print a plan must not build the etcd server; host.Local must not need
// client-go).
package depcheck

import (
	"os/exec"
	"strings"
	"testing"
)

// Deps returns the import paths pkg (a pattern such as "." or
// "github.com/lifeboat-dev/lifeboat/restore") depends on, as
// "go list -deps" lists them for the current platform (tests excluded).
// It skips t when the go command is not on PATH.
func Deps(t testing.TB, pkg string) []string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go command not found: %v", err)
	}
	out, err := exec.Command(goCmd, "list", "-deps", pkg).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, ee.Stderr)
		}
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// Forbid fails t for every dependency of pkg that starts with one of
// prefixes ("k8s.io/client-go/"), naming it.
func Forbid(t testing.TB, pkg string, prefixes ...string) {
	t.Helper()
	deps := Deps(t, pkg)
	if len(deps) == 0 {
		t.Fatalf("go list -deps %s listed nothing", pkg)
	}
	for _, d := range deps {
		for _, p := range prefixes {
			if d == strings.TrimSuffix(p, "/") || strings.HasPrefix(d, p) {
				t.Errorf("%s depends on %s (forbidden: %s)", pkg, d, p)
			}
		}
	}
}
