package jsonkeys

import "testing"

func TestUnique(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  string
		ok   bool
	}{
		{"flat", `{"a": 1, "b": 2}`, true},
		{"same key in two objects", `{"a": {"k": 1}, "b": {"k": 2}, "c": [{"k": 1}, {"k": 2}]}`, true},
		{"scalar", `"x"`, true},
		{"top-level twice", `{"a": 1, "a": 2}`, false},
		{"nested twice", `{"a": {"k": 1, "k": 2}}`, false},
		{"in an array", `[{"k": 1, "k": 1}]`, false},
		{"truncated", `{"a": `, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Unique([]byte(tc.doc)); (err == nil) != tc.ok {
				t.Errorf("Unique(%s) = %v, want ok=%v", tc.doc, err, tc.ok)
			}
		})
	}
}
