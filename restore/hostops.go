package restore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/lifeboat-dev/lifeboat/backup"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/lifeboat-dev/lifeboat/host"
)

// moveAside moves src on h into dstDir (keeping its base name, or a
// suffixed one when that is taken) and records the move in the state:
// first as intended, then as done, so that a run interrupted in between
// resumes with the same destination. A src that does not exist and was
// never recorded is left alone (moved reports false).
func (r *runner) moveAside(ctx context.Context, h host.Host, step, src, dstDir string) (moved bool, err error) {
	d, err := r.state.Get(ctx)
	if err != nil {
		return false, err
	}
	var rec *Move
	for i := range d.Moves {
		if m := d.Moves[i]; m.Host == h.Name() && m.From == src && m.Step == step {
			rec = &m
		}
	}
	if rec == nil {
		if _, err := h.Stat(ctx, src); errors.Is(err, fs.ErrNotExist) {
			return false, nil
		} else if err != nil {
			return false, err
		}
		dst, err := freeName(ctx, h, path.Join(dstDir, path.Base(src)))
		if err != nil {
			return false, err
		}
		rec = &Move{Host: h.Name(), From: src, To: dst, Step: step, Time: r.now()}
		if err := r.state.Update(ctx, func(d *StateData) { d.Moves = append(d.Moves, *rec) }); err != nil {
			return false, err
		}
	}
	if err := h.MkdirAll(ctx, path.Dir(rec.To), 0o700); err != nil {
		return false, err
	}
	if err := h.Move(ctx, rec.From, rec.To); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			// Neither src nor dst: someone else moved it; say so.
			return false, fmt.Errorf("moving %s to %s on %s: %w", rec.From, rec.To, h.Name(), err)
		}
		return false, err
	}
	r.log.Info("moved aside", "host", h.Name(), "from", rec.From, "to", rec.To)
	return true, r.state.Update(ctx, func(d *StateData) {
		for i := range d.Moves {
			if m := &d.Moves[i]; m.Host == rec.Host && m.From == rec.From && m.Step == rec.Step {
				m.Done = true
			}
		}
	})
}

// freeName returns p, or p.1, p.2, ... the first that does not exist.
func freeName(ctx context.Context, h host.Host, p string) (string, error) {
	cand := p
	for i := 1; i < 1000; i++ {
		_, err := h.Stat(ctx, cand)
		if errors.Is(err, fs.ErrNotExist) {
			return cand, nil
		}
		if err != nil {
			return "", err
		}
		cand = fmt.Sprintf("%s.%d", p, i)
	}
	return "", fmt.Errorf("no free name beside %s on %s", p, h.Name())
}

// runningContainers lists the containers of the given names running on h,
// leaving out operators (the runbook's "grep etcd | grep -v operator").
func runningContainers(ctx context.Context, h host.Host, names []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, n := range names {
		cs, err := h.Containers(ctx, n)
		if err != nil {
			return nil, fmt.Errorf("listing containers on %s: %w", h.Name(), err)
		}
		for _, c := range cs {
			if strings.Contains(c.Name, "operator") || seen[c.ID+c.Name] {
				continue
			}
			if c.State != "" && !strings.EqualFold(c.State, "running") {
				continue
			}
			seen[c.ID+c.Name] = true
			out = append(out, c.Name)
		}
	}
	return out, nil
}

// waitContainersGone polls until no container of the names runs on h.
func (r *runner) waitContainersGone(ctx context.Context, h host.Host, names []string, progress func(string)) error {
	var last []string
	err := r.poll(ctx, r.opts.ContainerTimeout, func(ctx context.Context) (bool, error) {
		running, err := runningContainers(ctx, h, names)
		if err != nil {
			return false, err
		}
		if len(running) > 0 && strings.Join(running, ",") != strings.Join(last, ",") {
			progress(fmt.Sprintf("waiting for containers %s to stop on %s", strings.Join(running, ", "), h.Name()))
		}
		last = running
		return len(running) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("containers %v still running on %s: %w", last, h.Name(), err)
	}
	return nil
}

// poll runs cond every Interval until it is true, fails, or timeout (0:
// none beyond ctx) passes.
func (r *runner) poll(ctx context.Context, timeout time.Duration, cond wait.ConditionWithContextFunc) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return wait.PollUntilContextCancel(ctx, r.opts.Interval, true, cond)
}

// sameContent reports whether the file p on h holds exactly b.
func sameContent(ctx context.Context, h host.Host, p string, b []byte) (bool, error) {
	got, err := h.ReadFile(ctx, p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return bytes.Equal(got, b), nil
}

// exists reports whether p exists on h.
func exists(ctx context.Context, h host.Host, p string) (bool, error) {
	_, err := h.Stat(ctx, p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// copyOnHost streams src to dst on h with perm. On a remote host the
// bytes pass through this process.
func copyOnHost(ctx context.Context, h host.Host, src, dst string, perm fs.FileMode) error {
	rc, err := h.Open(ctx, src)
	if err != nil {
		return err
	}
	defer rc.Close()
	return h.WriteFile(ctx, dst, rc, perm)
}

// fileSHA256 returns the hex sha256 of the whole file p on h (streamed; on
// a remote host the bytes pass through this process). A missing file
// wraps fs.ErrNotExist.
func fileSHA256(ctx context.Context, h host.Host, p string) (string, error) {
	rc, err := h.Open(ctx, p)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	sum := sha256.New()
	if _, err := io.CopyBuffer(sum, &stagingReader{ctx: ctx, r: rc}, make([]byte, 1<<20)); err != nil {
		return "", fmt.Errorf("hashing %s on %s: %w", p, h.Name(), err)
	}
	return hex.EncodeToString(sum.Sum(nil)), nil
}

// stageFile makes dst on h a copy of src on h, judged by content (see
// copyFile).
func (r *runner) stageFile(ctx context.Context, h host.Host, step, src, dst string, progress func(string)) error {
	return r.copyFile(ctx, h, src, h, step, dst, progress)
}

// copyFile makes dst on h a copy of src on from, judged by content, never
// by name, size or time: a dst with src's sha256 is left alone; any other
// dst is moved aside (into AsideDir/stale, recorded under step) before src
// is copied. The copy is hashed as it streams and must match the hash read
// before.
func (r *runner) copyFile(ctx context.Context, from host.Host, src string, h host.Host, step, dst string, progress func(string)) error {
	want, err := fileSHA256(ctx, from, src)
	if err != nil {
		return err
	}
	got, err := fileSHA256(ctx, h, dst)
	switch {
	case err == nil && got == want:
		progress(dst + " already holds " + path.Base(src) + " (same sha256)")
		return nil
	case err == nil:
		to, err := r.moveAsideTo(ctx, h, step, dst, path.Join(r.opts.AsideDir, "stale"))
		if err != nil {
			return err
		}
		progress(fmt.Sprintf("%s held other content (sha256 %s, want %s): moved to %s", dst, shortHash(got), shortHash(want), to))
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	progress(fmt.Sprintf("copying %s:%s to %s:%s", from.Name(), src, h.Name(), dst))
	rc, err := from.Open(ctx, src)
	if err != nil {
		return err
	}
	defer rc.Close()
	sum := sha256.New()
	if err := h.WriteFile(ctx, dst, io.TeeReader(&stagingReader{ctx: ctx, r: rc}, sum), 0o600); err != nil {
		return fmt.Errorf("copying %s to %s on %s: %w", src, dst, h.Name(), err)
	}
	if copied := hex.EncodeToString(sum.Sum(nil)); copied != want {
		return fmt.Errorf("%w: %s changed while it was copied to %s on %s (sha256 %s, then %s)", backup.ErrHashMismatch, src, dst, h.Name(), shortHash(want), shortHash(copied))
	}
	return nil
}

// moveAsideTo is moveAside, returning where src went.
func (r *runner) moveAsideTo(ctx context.Context, h host.Host, step, src, dstDir string) (string, error) {
	if _, err := r.moveAside(ctx, h, step, src, dstDir); err != nil {
		return "", err
	}
	d, err := r.state.Get(ctx)
	if err != nil {
		return "", err
	}
	return movedTo(d, h.Name(), src), nil
}

// stagingReader stops a copy or a hash when ctx is cancelled.
type stagingReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *stagingReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
