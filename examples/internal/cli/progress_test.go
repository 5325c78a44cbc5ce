package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// fakeClock advances by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// Off a terminal, Progress prints plain lines: the first update, then at
// most one per interval, and a last one when the transfer ends, with
// bytes, percentage, average rate and ETA.
func TestProgressPlainLines(t *testing.T) {
	off := false
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var out bytes.Buffer
	p := NewProgress(&out, ProgressOptions{Terminal: &off, Interval: 10 * time.Second, Now: clock.now})

	const mib = 1 << 20
	steps := []struct {
		after       time.Duration
		done, total int64
	}{
		{0, 0, 100 * mib},
		{2 * time.Second, 20 * mib, 100 * mib}, // within the interval: no line
		{10 * time.Second, 50 * mib, 100 * mib},
		{5 * time.Second, 75 * mib, 100 * mib}, // within the interval: no line
		{5 * time.Second, 100 * mib, 100 * mib},
	}
	for _, s := range steps {
		clock.t = clock.t.Add(s.after)
		p.Update("snapshot.db", s.done, s.total)
	}
	p.Done("snapshot.db")
	p.Done("snapshot.db") // a second Done prints nothing

	// An archive whose size is unknown until its end.
	p.Update("resources.tar.gz", 512, 0)
	clock.t = clock.t.Add(time.Second)
	p.Update("resources.tar.gz", 2048, 0)
	p.Done("resources.tar.gz")

	want := []string{
		"snapshot.db: 0 B of 100.0 MiB (0%)",
		"snapshot.db: 50.0 MiB of 100.0 MiB (50%), 4.2 MiB/s, ETA 12s",
		"snapshot.db: 100.0 MiB of 100.0 MiB (100%), 4.5 MiB/s",
		"snapshot.db: 100.0 MiB of 100.0 MiB (100%), 4.5 MiB/s, done in 22s",
		"resources.tar.gz: 512 B",
		"resources.tar.gz: 2.0 KiB, 2.0 KiB/s, done in 1s",
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("output:\n%s\nwant:\n%s", out.String(), strings.Join(want, "\n"))
	}
}

// On a terminal the bar shows bytes, rate and ETA, and never prints
// plain lines.
func TestProgressTerminalBar(t *testing.T) {
	on := true
	var out bytes.Buffer
	p := NewProgress(&out, ProgressOptions{Terminal: &on})
	p.Update("snapshot.db", 1<<20, 4<<20)
	time.Sleep(150 * time.Millisecond) // past the bar's render throttle
	p.Update("snapshot.db", 4<<20, 4<<20)
	p.Done("snapshot.db")
	s := out.String()
	// "[elapsed:remaining]" is the bar's ETA.
	if !strings.Contains(s, "snapshot.db") || !strings.Contains(s, "4.0 MiB") || !strings.Contains(s, "100%") || !strings.Contains(s, "/s)") ||
		!strings.Contains(s, "s:") || strings.Contains(s, "snapshot.db: ") {
		t.Fatalf("bar output %q", s)
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 3 << 20: "3.0 MiB", 5 << 30: "5.0 GiB", 2 << 40: "2.0 TiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
