package cli

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// DefaultProgressInterval is how often Progress prints a plain line for a
// transfer when its output is not a terminal.
const DefaultProgressInterval = 10 * time.Second

// ProgressOptions configure NewProgress.
type ProgressOptions struct {
	// Terminal forces the live bar (true) or plain lines (false); nil
	// means a live bar exactly when the writer is a terminal.
	Terminal *bool
	// Interval between plain lines of one transfer; 0 means
	// DefaultProgressInterval. The first and the last line are always
	// printed.
	Interval time.Duration
	// Now is the clock for rates and intervals; nil means time.Now.
	Now func() time.Time
}

// Progress shows the bytes of named transfers (a snapshot, an upload, a
// download): on a terminal a live bar per transfer with bytes, rate and
// ETA (github.com/schollz/progressbar), otherwise plain lines at most
// every Interval, which read well in a CI log or `oc logs`:
//
//	snapshot_2020-03-18_220218.db: 512.0 MiB of 1.0 GiB (50%), 85.3 MiB/s, ETA 6s
//
// Update and Done may be called from any goroutine.
type Progress struct {
	w        io.Writer
	terminal bool
	interval time.Duration
	now      func() time.Time

	mu        sync.Mutex
	transfers map[string]*transfer
}

type transfer struct {
	bar         *progressbar.ProgressBar
	start, last time.Time
	done, total int64
	finished    bool
}

// NewProgress writes to w.
func NewProgress(w io.Writer, opts ProgressOptions) *Progress {
	p := &Progress{w: w, interval: opts.Interval, now: opts.Now, transfers: map[string]*transfer{}}
	if p.interval <= 0 {
		p.interval = DefaultProgressInterval
	}
	if p.now == nil {
		p.now = time.Now
	}
	if opts.Terminal != nil {
		p.terminal = *opts.Terminal
	} else if f, ok := w.(*os.File); ok {
		p.terminal = term.IsTerminal(int(f.Fd()))
	}
	return p
}

// Update reports that the transfer called name has moved done of total
// bytes (total 0 when unknown; a total smaller than done is raised).
func (p *Progress) Update(name string, done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if total > 0 && done > total {
		total = done
	}
	t, now := p.transfers[name], p.now()
	if t == nil || t.finished {
		t = &transfer{start: now}
		p.transfers[name] = t
		if p.terminal {
			t.bar = p.newBar(name, total)
		}
	}
	t.done = done
	if t.bar != nil {
		if total != t.total && total > 0 {
			t.bar.ChangeMax64(total)
		}
		t.total = total
		t.bar.Set64(done)
		return
	}
	first := t.last.IsZero()
	t.total = total
	if first || now.Sub(t.last) >= p.interval {
		t.last = now
		p.line(name, t, now)
	}
}

// Done ends the transfer called name: its bar completes, or its last
// line is printed.
func (p *Progress) Done(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.transfers[name]
	if t == nil || t.finished {
		return
	}
	t.finished = true
	if t.bar != nil {
		if t.total <= 0 {
			t.bar.ChangeMax64(t.done)
		}
		t.bar.Finish()
		fmt.Fprintln(p.w)
		return
	}
	p.line(name, t, p.now())
}

func (p *Progress) newBar(name string, total int64) *progressbar.ProgressBar {
	max := total
	if max <= 0 {
		max = -1 // a spinner until the size is known
	}
	return progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(name),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionUseIECUnits(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
	)
}

// line prints one plain line.
func (p *Progress) line(name string, t *transfer, now time.Time) {
	s := name + ": " + Bytes(t.done)
	if t.total > 0 {
		s += fmt.Sprintf(" of %s (%d%%)", Bytes(t.total), 100*t.done/t.total)
	}
	if el := now.Sub(t.start); el > 0 && t.done > 0 {
		rate := float64(t.done) / el.Seconds()
		s += fmt.Sprintf(", %s/s", Bytes(int64(rate)))
		if t.total > 0 && !t.finished && t.done < t.total {
			eta := time.Duration(float64(t.total-t.done) / rate * float64(time.Second))
			s += ", ETA " + eta.Round(time.Second).String()
		}
	}
	if t.finished {
		s += ", done in " + now.Sub(t.start).Round(time.Millisecond).String()
	}
	fmt.Fprintln(p.w, s)
}

// Bytes formats n bytes in B, KiB, MiB, GiB or TiB with one decimal.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 3; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGT"[exp])
}
