package main

import (
	"bytes"
	"testing"
)

func TestUsage(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		{"nothing", nil},
		{"no recovery host", []string{"-backup", "/tmp/b"}},
		{"both backups", []string{"-backup", "/a", "-backup-on-host", "/b", "-recovery", "h"}},
		{"unknown flag", []string{"-nope"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tc.args, &out, &errb, nil); code != exitUsage {
				t.Fatalf("exit %d, want %d (%s)", code, exitUsage, errb.String())
			}
		})
	}
}
