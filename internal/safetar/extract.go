package safetar

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Target receives the extracted files. Paths are absolute and
// slash-separated ("/etc/kubernetes/static-pod-resources/..."); a host.Host
// satisfies it.
type Target interface {
	MkdirAll(ctx context.Context, path string, perm fs.FileMode) error
	// WriteFile writes r to path atomically with perm.
	WriteFile(ctx context.Context, path string, r io.Reader, perm fs.FileMode) error
}

// Linker is implemented by targets that can create links. Extracting an
// archive holding a link into a target without it fails with
// ErrLinksUnsupported before anything is written.
type Linker interface {
	Symlink(ctx context.Context, oldname, newname string) error
	Link(ctx context.Context, oldname, newname string) error
}

// ErrLinksUnsupported is returned when an archive holds links and the
// target cannot create them.
var ErrLinksUnsupported = errors.New("target cannot create links")

// CanLink reports whether dst can create the links an archive holds.
func CanLink(dst Target) bool {
	_, ok := dst.(Linker)
	return ok
}

// CheckLinkSupport returns an *EntryError wrapping ErrLinksUnsupported
// for the first included link among entries when dst cannot create links:
// the rule Extract applies before writing anything, for a caller that
// checks ahead of time with the entries Check returned.
func CheckLinkSupport(entries []Entry, dst Target) error {
	if CanLink(dst) {
		return nil
	}
	for _, e := range entries {
		if e.Included && (e.Type == TypeSymlink || e.Type == TypeLink) {
			return &EntryError{Name: e.Name, Err: ErrLinksUnsupported}
		}
	}
	return nil
}

// Extract validates the archive (Check on a first reader from open), then
// extracts the included entries beneath dir of dst from a second reader.
// dir is an absolute slash-separated path on the target. Nothing is written
// when validation fails. It returns the entries written (or skipped by
// Options.BeforeWrite).
func Extract(ctx context.Context, open func() (io.ReadCloser, error), dst Target, dir string, opts Options) ([]Entry, error) {
	if !path.IsAbs(dir) {
		return nil, fmt.Errorf("extract: destination %q is not absolute", dir)
	}
	dir = path.Clean(dir)
	opts = opts.withDefaults()
	rc, err := open()
	if err != nil {
		return nil, err
	}
	entries, err := Check(ctx, rc, opts)
	rc.Close()
	if err != nil {
		return nil, err
	}
	if err := CheckLinkSupport(entries, dst); err != nil {
		return nil, err
	}
	linker, _ := dst.(Linker)

	rc, err = open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	tr, _, closeFn, err := newReader(rc)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	// The second pass must see the same archive the first validated.
	v := newValidator(opts)
	var done []Entry
	for i := 0; ; i++ {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return done, fmt.Errorf("reading tar archive: %w", err)
		}
		e, err := v.check(hdr)
		if err != nil {
			return done, fmt.Errorf("archive changed between validation and extraction: %w", err)
		}
		if e.Type == "" {
			continue
		}
		e.Included = opts.Include == nil || opts.Include(e.Name)
		if !e.Included {
			continue
		}
		p := path.Join(dir, e.Name)
		switch e.Type {
		case TypeDir:
			err = dst.MkdirAll(ctx, p, e.Mode|0o700)
		case TypeFile:
			if err = dst.MkdirAll(ctx, path.Dir(p), 0o755); err != nil {
				break
			}
			lr := &io.LimitedReader{R: &ctxReader{ctx: ctx, r: tr}, N: e.Size}
			var src io.Reader = lr
			if opts.BeforeWrite != nil {
				var content []byte
				if e.Size <= MaxCompareSize {
					if content, err = io.ReadAll(lr); err != nil {
						break
					}
					src = bytes.NewReader(content)
				}
				if err = opts.BeforeWrite(ctx, p, e, content); errors.Is(err, ErrSkipWrite) {
					err = nil
					done = append(done, e)
					continue
				} else if err != nil {
					break
				}
			}
			err = dst.WriteFile(ctx, p, src, e.Mode)
			if err == nil && lr.N != 0 {
				err = io.ErrUnexpectedEOF
			}
		case TypeSymlink:
			if err = dst.MkdirAll(ctx, path.Dir(p), 0o755); err == nil {
				err = linker.Symlink(ctx, e.LinkName, p)
			}
		case TypeLink:
			if err = dst.MkdirAll(ctx, path.Dir(p), 0o755); err == nil {
				err = linker.Link(ctx, path.Join(dir, e.LinkName), p)
			}
		}
		if err != nil {
			return done, &EntryError{Name: hdr.Name, Err: err}
		}
		done = append(done, e)
	}
	return done, nil
}

// DirTarget is a local directory as a Target: "/" is the directory itself.
// All access goes through an os.Root, which refuses any path or link that
// leads outside it.
type DirTarget struct {
	root *os.Root
}

var (
	_ Target = (*DirTarget)(nil)
	_ Linker = (*DirTarget)(nil)
)

// NewDirTarget opens dir, which must exist.
func NewDirTarget(dir string) (*DirTarget, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &DirTarget{root: r}, nil
}

// Close releases the directory.
func (d *DirTarget) Close() error { return d.root.Close() }

func rel(p string) string {
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	if p == "" {
		return "."
	}
	return filepath.FromSlash(p)
}

// MkdirAll creates p and its parents.
func (d *DirTarget) MkdirAll(ctx context.Context, p string, perm fs.FileMode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return d.root.MkdirAll(rel(p), perm)
}

// WriteFile writes r to a temporary file beside p, syncs it and renames it
// over p.
func (d *DirTarget) WriteFile(ctx context.Context, p string, r io.Reader, perm fs.FileMode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	name := rel(p)
	tmp := filepath.Join(filepath.Dir(name), "."+filepath.Base(name)+".safetar-part")
	f, err := d.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, &ctxReader{ctx: ctx, r: r})
	if err == nil {
		err = f.Chmod(perm.Perm())
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = d.root.Rename(tmp, name)
	}
	if err != nil {
		d.root.Remove(tmp)
	}
	return err
}

// Symlink creates newname pointing at oldname (kept as written).
func (d *DirTarget) Symlink(ctx context.Context, oldname, newname string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	name := rel(newname)
	if fi, err := d.root.Lstat(name); err == nil && !fi.IsDir() {
		if err := d.root.Remove(name); err != nil {
			return err
		}
	}
	return d.root.Symlink(oldname, name)
}

// Link creates newname as a hard link to oldname; both are target paths.
func (d *DirTarget) Link(ctx context.Context, oldname, newname string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	name := rel(newname)
	if fi, err := d.root.Lstat(name); err == nil && !fi.IsDir() {
		if err := d.root.Remove(name); err != nil {
			return err
		}
	}
	return d.root.Link(rel(oldname), name)
}
