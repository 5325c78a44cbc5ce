package clustertest

import (
	"context"
	"testing"
	"time"
)

// BenchmarkStart measures how long New takes to bring up a 3-master,
// 2-worker cluster with the binaries already built (the target is under
// 15 s on 2 cores), and how long Close takes. Run it alone:
//
//	go test ./clustertest -run '^$' -bench Start -benchtime 3x
func BenchmarkStart(b *testing.B) {
	requireBinaries(b)
	var start, stop time.Duration
	for b.Loop() {
		ctx, cancel := context.WithTimeout(b.Context(), 3*time.Minute)
		t0 := time.Now()
		c, err := New(ctx, Options{Dir: b.TempDir()})
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := c.Close(); err != nil {
			b.Fatal(err)
		}
		start += t1.Sub(t0)
		stop += time.Since(t1)
	}
	b.ReportMetric(start.Seconds()/float64(b.N), "start-s/op")
	b.ReportMetric(stop.Seconds()/float64(b.N), "close-s/op")
	b.Logf("3 masters + 2 workers: start %.2fs, close %.2fs (mean of %d)", start.Seconds()/float64(b.N), stop.Seconds()/float64(b.N), b.N)
}
