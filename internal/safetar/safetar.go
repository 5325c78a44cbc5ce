package safetar

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
)

// ErrUnsafeEntry is wrapped by the error for an entry that would write
// outside the destination or create a special file.
var ErrUnsafeEntry = errors.New("unsafe tar entry")

// ErrTooLarge is wrapped when an entry or the whole archive exceeds a limit.
var ErrTooLarge = errors.New("tar archive too large")

// Defaults for the zero values of [Options].
const (
	DefaultMaxFileSize  = 1 << 30 // 1 GiB
	DefaultMaxTotalSize = 4 << 30 // 4 GiB
	DefaultMaxEntries   = 100000
	maxLinkDepth        = 40
)

// Options configures Check and Extract. The zero value applies the default
// limits and accepts every entry.
type Options struct {
	// MaxFileSize bounds the size of one regular file; 0 means
	// DefaultMaxFileSize.
	MaxFileSize int64
	// MaxTotalSize bounds the sum of all regular files; 0 means
	// DefaultMaxTotalSize.
	MaxTotalSize int64
	// MaxEntries bounds the number of entries; 0 means DefaultMaxEntries.
	MaxEntries int
	// Include, when set, selects the entries to extract by their cleaned
	// name ("static-pod-resources/etcd-pod-3/etcd-pod.yaml"). Entries it
	// rejects are still validated: an archive holding an unsafe entry is
	// refused as a whole.
	Include func(name string) bool
	// BeforeWrite, when set, is called with the destination path of each
	// regular file before it is written, and its content when it is at
	// most MaxCompareSize bytes (nil otherwise). Returning ErrSkipWrite
	// leaves the file as it is (for example when its content is already
	// identical); any other error stops the extraction. It is where a
	// caller moves an existing file aside instead of overwriting it.
	BeforeWrite func(ctx context.Context, dst string, e Entry, content []byte) error
	// OnFile, when set, is called by Check with each valid regular file
	// and a reader of its content (what it leaves unread is read by
	// Check). An error stops the check. It lets a verifier look at small
	// files (pod manifests) in the same pass.
	OnFile func(e Entry, r io.Reader) error
}

// MaxCompareSize is the largest file whose content BeforeWrite receives.
const MaxCompareSize = 16 << 20

// ErrSkipWrite, returned by Options.BeforeWrite, skips writing one file.
var ErrSkipWrite = errors.New("skip write")

func (o Options) withDefaults() Options {
	if o.MaxFileSize <= 0 {
		o.MaxFileSize = DefaultMaxFileSize
	}
	if o.MaxTotalSize <= 0 {
		o.MaxTotalSize = DefaultMaxTotalSize
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	return o
}

// Type is the kind of an accepted entry.
type Type string

const (
	TypeFile    Type = "file"
	TypeDir     Type = "dir"
	TypeSymlink Type = "symlink"
	TypeLink    Type = "hardlink"
)

// Entry is one validated archive entry.
type Entry struct {
	Name     string // cleaned, relative, slash-separated
	Type     Type
	Mode     fs.FileMode // permission bits only
	Size     int64
	LinkName string // target of a link, as written in the archive
	Included bool   // selected by Options.Include
}

// EntryError reports the entry that made an archive unacceptable.
type EntryError struct {
	Name string // the name as written in the archive
	Err  error
}

func (e *EntryError) Error() string { return fmt.Sprintf("tar entry %q: %v", e.Name, e.Err) }
func (e *EntryError) Unwrap() error { return e.Err }

// Check reads the whole archive from r (gzip-compressed or not, detected
// from its first bytes) and validates every entry without writing anything.
// It returns the entries in archive order.
func Check(ctx context.Context, r io.Reader, opts Options) ([]Entry, error) {
	opts = opts.withDefaults()
	tr, rest, closeFn, err := newReader(r)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	v := newValidator(opts)
	var entries []Entry
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading tar archive: %w", err)
		}
		e, err := v.check(hdr)
		if err != nil {
			return nil, err
		}
		if e.Type == TypeFile {
			// Read the content so that a truncated archive is found now,
			// not half way through the extraction.
			cr := &countReader{r: &ctxReader{ctx: ctx, r: tr}}
			if opts.OnFile != nil {
				e.Included = opts.Include == nil || opts.Include(e.Name)
				if err := opts.OnFile(e, cr); err != nil {
					return nil, &EntryError{Name: hdr.Name, Err: err}
				}
			}
			_, err := io.Copy(io.Discard, cr)
			n := cr.n
			if err != nil {
				return nil, &EntryError{Name: hdr.Name, Err: fmt.Errorf("reading content: %w", err)}
			}
			if n != hdr.Size {
				return nil, &EntryError{Name: hdr.Name, Err: io.ErrUnexpectedEOF}
			}
		}
		if e.Type == "" { // an entry with nothing to extract (PAX globals)
			continue
		}
		e.Included = opts.Include == nil || opts.Include(e.Name)
		entries = append(entries, e)
	}
	// Reading to the end checks the gzip trailer (CRC and length).
	if _, err := io.Copy(io.Discard, &ctxReader{ctx: ctx, r: rest}); err != nil {
		return nil, fmt.Errorf("reading tar archive: %w", err)
	}
	if err := v.recheckLinks(); err != nil {
		return nil, err
	}
	return entries, nil
}

// newReader returns a tar reader of r (gunzipped when r starts with the
// gzip magic) and the stream it reads, to drain after the last entry.
func newReader(r io.Reader) (*tar.Reader, io.Reader, func(), error) {
	br := bufio.NewReader(r)
	magic, err := br.Peek(2)
	if err != nil && err != io.EOF {
		return nil, nil, nil, fmt.Errorf("reading tar archive: %w", err)
	}
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("reading gzip stream: %w", err)
		}
		return tar.NewReader(zr), zr, func() { zr.Close() }, nil
	}
	return tar.NewReader(br), br, func() {}, nil
}

type validator struct {
	opts    Options
	total   int64
	count   int
	links   map[string]string // symlink name -> its target as written in the archive
	entries map[string]Type
}

func newValidator(opts Options) *validator {
	return &validator{opts: opts, links: map[string]string{}, entries: map[string]Type{}}
}

// cleanName validates an entry name and returns it cleaned and relative.
func cleanName(name string) (string, error) {
	switch {
	case name == "":
		return "", fmt.Errorf("%w: empty name", ErrUnsafeEntry)
	case strings.ContainsRune(name, 0):
		return "", fmt.Errorf("%w: name contains NUL", ErrUnsafeEntry)
	case strings.Contains(name, `\`):
		return "", fmt.Errorf("%w: name contains a backslash", ErrUnsafeEntry)
	case strings.HasPrefix(name, "/"):
		return "", fmt.Errorf("%w: absolute name", ErrUnsafeEntry)
	}
	for _, el := range strings.Split(name, "/") {
		if el == ".." {
			return "", fmt.Errorf("%w: name has a \"..\" element", ErrUnsafeEntry)
		}
	}
	c := path.Clean(name)
	if c == "." {
		return ".", nil
	}
	return c, nil
}

func (v *validator) check(hdr *tar.Header) (Entry, error) {
	fail := func(err error) (Entry, error) { return Entry{}, &EntryError{Name: hdr.Name, Err: err} }
	v.count++
	if v.count > v.opts.MaxEntries {
		return fail(fmt.Errorf("%w: more than %d entries", ErrTooLarge, v.opts.MaxEntries))
	}
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return Entry{}, nil
	}
	name, err := cleanName(hdr.Name)
	if err != nil {
		return fail(err)
	}
	if err := v.throughLink(name); err != nil {
		return fail(err)
	}
	e := Entry{Name: name, Mode: fs.FileMode(hdr.Mode).Perm()}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeRegA:
		if name == "." {
			return fail(fmt.Errorf("%w: regular file named \".\"", ErrUnsafeEntry))
		}
		if hdr.Size < 0 {
			return fail(fmt.Errorf("%w: negative size", ErrUnsafeEntry))
		}
		if hdr.Size > v.opts.MaxFileSize {
			return fail(fmt.Errorf("%w: file of %d bytes exceeds the limit of %d", ErrTooLarge, hdr.Size, v.opts.MaxFileSize))
		}
		v.total += hdr.Size
		if v.total > v.opts.MaxTotalSize {
			return fail(fmt.Errorf("%w: files exceed the total limit of %d bytes", ErrTooLarge, v.opts.MaxTotalSize))
		}
		e.Type, e.Size = TypeFile, hdr.Size
	case tar.TypeDir:
		e.Type = TypeDir
	case tar.TypeSymlink:
		if name == "." {
			return fail(fmt.Errorf("%w: link named \".\"", ErrUnsafeEntry))
		}
		if _, err := v.resolveLink(path.Dir(name), hdr.Linkname); err != nil {
			return fail(err)
		}
		v.links[name] = hdr.Linkname
		e.Type, e.LinkName = TypeSymlink, hdr.Linkname
	case tar.TypeLink:
		if name == "." {
			return fail(fmt.Errorf("%w: link named \".\"", ErrUnsafeEntry))
		}
		// Hard link names are relative to the archive root.
		target, err := cleanName(hdr.Linkname)
		if err != nil {
			return fail(fmt.Errorf("hard link target: %w", err))
		}
		if err := v.throughLink(target); err != nil {
			return fail(fmt.Errorf("hard link target: %w", err))
		}
		if v.entries[target] != TypeFile {
			return fail(fmt.Errorf("%w: hard link to %q, which is not a regular file earlier in the archive", ErrUnsafeEntry, hdr.Linkname))
		}
		e.Type, e.LinkName = TypeLink, target
	case tar.TypeChar, tar.TypeBlock:
		return fail(fmt.Errorf("%w: device file", ErrUnsafeEntry))
	case tar.TypeFifo:
		return fail(fmt.Errorf("%w: FIFO", ErrUnsafeEntry))
	default:
		return fail(fmt.Errorf("%w: unsupported entry type %q", ErrUnsafeEntry, hdr.Typeflag))
	}
	v.entries[name] = e.Type
	if e.Type != TypeSymlink {
		delete(v.links, name)
	}
	return e, nil
}

// throughLink refuses a name whose parent directories include a symbolic
// link created by the archive: writing there would follow the link.
func (v *validator) throughLink(name string) error {
	for dir := path.Dir(name); dir != "." && dir != "/"; dir = path.Dir(dir) {
		if _, ok := v.links[dir]; ok {
			return fmt.Errorf("%w: path goes through the symbolic link %q", ErrUnsafeEntry, dir)
		}
	}
	return nil
}

// resolveLink follows target from dir the way the kernel would, through the
// links already in the archive, and fails when it leaves the root.
func (v *validator) resolveLink(dir, target string) (string, error) {
	if target == "" || strings.ContainsRune(target, 0) {
		return "", fmt.Errorf("%w: empty or invalid link target", ErrUnsafeEntry)
	}
	if strings.HasPrefix(target, "/") {
		return "", fmt.Errorf("%w: absolute link target %q", ErrUnsafeEntry, target)
	}
	var cur []string
	if dir != "." {
		cur = strings.Split(dir, "/")
	}
	res, err := v.walk(cur, target, 0)
	if err != nil {
		return "", fmt.Errorf("%w: link target %q %v", ErrUnsafeEntry, target, err)
	}
	if len(res) == 0 {
		return ".", nil
	}
	return strings.Join(res, "/"), nil
}

// walk applies the elements of target to the directory cur, following the
// archive's symbolic links (their raw targets, relative to their own
// directory) as they are met.
func (v *validator) walk(cur []string, target string, depth int) ([]string, error) {
	if depth > maxLinkDepth {
		return nil, errors.New("has too many levels of links")
	}
	if strings.HasPrefix(target, "/") {
		return nil, errors.New("goes through an absolute link")
	}
	cur = append([]string(nil), cur...)
	for _, el := range strings.Split(target, "/") {
		switch el {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return nil, errors.New("leaves the tree")
			}
			cur = cur[:len(cur)-1]
			continue
		}
		cur = append(cur, el)
		if raw, ok := v.links[strings.Join(cur, "/")]; ok {
			var err error
			if cur, err = v.walk(cur[:len(cur)-1], raw, depth+1); err != nil {
				return nil, err
			}
		}
	}
	return cur, nil
}

// recheckLinks resolves every link again once the whole archive is known: a
// link added later can change where an earlier one leads.
func (v *validator) recheckLinks() error {
	for name, raw := range v.links {
		if _, err := v.resolveLink(path.Dir(name), raw); err != nil {
			return &EntryError{Name: name, Err: err}
		}
	}
	return nil
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
