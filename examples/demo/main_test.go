package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestDemo runs the whole demo: every chapter of the runbook on the
// simulated cluster, each verification passing.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("walks the whole runbook on a simulated cluster")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()
	var out bytes.Buffer
	code := run(ctx, &out, false, false)
	t.Log(out.String())
	if code != 0 {
		t.Fatalf("demo exited %d", code)
	}
	for _, want := range []string{
		"Chapter 1", "Chapter 2", "Chapters 3 and 4", "Chapter 5",
		"verified namespace payments and its ConfigMap are back with their data",
		"0 verification(s) failed",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
}
