package toolchain

import "testing"

// Every group names a module its tools module requires, so its cache
// directory has a version.
func TestGroupsHaveVersions(t *testing.T) {
	for _, g := range groups {
		v, err := g.Version()
		if err != nil || v == "" || v[0] != 'v' {
			t.Errorf("%s: version %q, %v", g.Name, v, err)
		}
	}
	if _, err := Lookup("nope"); err == nil {
		t.Error("Lookup(nope) succeeded")
	}
}
