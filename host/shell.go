package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"
	"github.com/lifeboat-dev/lifeboat/internal/safego"
)

// Exit codes the shell lines use to report conditions that map to typed
// errors. They are high enough that the commands wrapped (cat, mv, stat)
// never use them.
const (
	exitNotExist       = 211 // the (first) path does not exist
	exitExist          = 212 // the destination exists
	exitIsDir          = 213 // a file was expected, the path is a directory
	exitNotDir         = 214 // a directory was expected
	exitParentNotExist = 215 // the destination's parent does not exist
)

// openMarker is printed by the Open line once the file has been found, so
// that Open can tell "not found" from "found, content follows" in one round
// trip.
const openMarker = 'L'

// shellHost carries out the typed operations of Host as the runbook's own
// shell commands (cat, mv, mkdir -p, stat, crictl, systemctl, shutdown)
// through a LineRunner. SSH and the debug-pod host embed it.
type shellHost struct {
	name string
	t    LineRunner
	log  *slog.Logger
}

// NewShell returns a Host named name (the node name) that carries out
// every typed operation as the runbook's own shell command (cat, mv, mkdir
// -p, stat, crictl ps --name, systemctl restart kubelet, shutdown -h) run
// as root through run, the way SSH does over "sudo -n sh -c". A cancelled
// Run stops the line's whole process tree on the host. Package
// host/debugpod builds its host on it. log receives a debug record per
// command; nil discards. An empty name or a nil run is an error.
func NewShell(name string, run LineRunner, log *slog.Logger) (Host, error) {
	if name == "" {
		return nil, opterr.Nil("host.NewShell name")
	}
	if run == nil {
		return nil, opterr.Nil("host.NewShell run")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &shellHost{name: name, t: run, log: log}, nil
}

// cleanAbs validates a host path and returns its clean absolute form.
func cleanAbs(op, p string) (string, error) {
	rel, err := hostRel(op, p)
	if err != nil {
		return "", err
	}
	if rel == "." {
		return "/", nil
	}
	return "/" + rel, nil
}

// pathErr maps the special exit codes to fs errors on p, anything else
// non-zero to an *ExitError.
func (h *shellHost) pathErr(op, p, line string, code int, stderr []byte) error {
	var inner error
	switch code {
	case 0:
		return nil
	case exitNotExist, exitParentNotExist:
		inner = fs.ErrNotExist
	case exitExist:
		inner = fs.ErrExist
	case exitIsDir:
		inner = errors.New("is a directory")
	case exitNotDir:
		inner = errors.New("not a directory")
	default:
		return &ExitError{Host: h.name, Argv: []string{"sh", "-c", line}, Code: code, Stderr: stderr}
	}
	return fmt.Errorf("host %s: %w", h.name, &fs.PathError{Op: op, Path: p, Err: inner})
}

// invalid reports a path refused by cleanAbs.
func (h *shellHost) invalid(err error) error {
	return fmt.Errorf("host %s: %w", h.name, err)
}

// Name returns the node name of the host ("" for a zero SSH).
func (h *shellHost) Name() string {
	if h == nil {
		return ""
	}
	return h.name
}

// unusable refuses a nil *shellHost, which only a zero SSH (not from
// NewSSH) has: every method that runs a line checks it first, so a zero
// SSH is a *lifeboat.OptionsError, never a nil dereference (Open's would
// be on a goroutine of its own, which the caller cannot recover).
func (h *shellHost) unusable() error {
	if h == nil {
		return opterr.New("host.SSH", "is not from NewSSH")
	}
	return nil
}

// LocalPath returns "", false: the host's files are not on this machine.
func (h *shellHost) LocalPath(string) (string, bool) { return "", false }

func readLine(p string) string {
	q := quote(p)
	return "if [ -d " + q + " ]; then exit " + strconv.Itoa(exitIsDir) + "; fi; " +
		"if [ ! -e " + q + " ]; then exit " + strconv.Itoa(exitNotExist) + "; fi; " +
		"printf " + string(openMarker) + " && exec cat -- " + q
}

// ReadFile returns the content of path ("cat <path>").
func (h *shellHost) ReadFile(ctx context.Context, p string) ([]byte, error) {
	rc, err := h.Open(ctx, p)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// Open streams the content of path ("cat <path>"). Closing the reader
// before the end stops the remote command. The line runs on a goroutine
// of its own: a panic of the LineRunner there is returned by Open, or by
// the reader's Read once content flowed, as a *lifeboat.PanicError.
func (h *shellHost) Open(ctx context.Context, p string) (io.ReadCloser, error) {
	if err := h.unusable(); err != nil {
		return nil, err
	}
	abs, err := cleanAbs("open", p)
	if err != nil {
		return nil, h.invalid(err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("host %s: open %s: %w", h.name, p, err)
	}
	line := readLine(abs)
	runCtx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		// The LineRunner and the logger are the caller's: their panic on
		// this goroutine is Open's (or the reader's) error.
		err := safego.Call("host "+h.name+": open "+p, func() error {
			_, code, stderr, err := h.run(runCtx, "open "+p, line, nil, pw)
			if err == nil {
				err = h.pathErr("open", p, line, code, stderr)
			}
			return err
		})
		pw.CloseWithError(err) // nil: the reader sees io.EOF
		done <- err
	}()
	var first [1]byte
	if _, err := io.ReadFull(pr, first[:]); err != nil || first[0] != openMarker {
		cancel()
		pr.Close()
		runErr := <-done
		if runErr != nil {
			return nil, runErr
		}
		if err == nil {
			err = fmt.Errorf("unexpected output %q", first[:])
		}
		return nil, fmt.Errorf("host %s: open %s: %w", h.name, p, err)
	}
	return &shellReader{r: pr, cancel: cancel, done: done}, nil
}

type shellReader struct {
	r      *io.PipeReader
	cancel context.CancelFunc
	done   chan error
	closed bool
}

func (s *shellReader) Read(p []byte) (int, error) { return s.r.Read(p) }

// Close stops the command if it is still running and waits for it.
func (s *shellReader) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.r.Close()
	s.cancel()
	<-s.done
	return nil
}

// WriteFile writes r to path with perm: "cat > <tmp>", chmod, sync, then
// "mv <tmp> <path>" and sync, with <tmp> beside path, removed on failure.
// The parent directory must exist.
func (h *shellHost) WriteFile(ctx context.Context, p string, r io.Reader, perm fs.FileMode) error {
	if err := h.unusable(); err != nil {
		return err
	}
	abs, err := cleanAbs("write", p)
	if err != nil {
		return h.invalid(err)
	}
	if abs == "/" {
		return fmt.Errorf("host %s: %w", h.name, &fs.PathError{Op: "write", Path: p, Err: errors.New("is a directory")})
	}
	dir := path.Dir(abs)
	tmp := path.Join(dir, "."+path.Base(abs)+".lifeboat-"+randomSuffix())
	line := "p=" + quote(abs) + "; t=" + quote(tmp) + "; " +
		`if [ ! -d ` + quote(dir) + ` ]; then exit ` + strconv.Itoa(exitParentNotExist) + "; fi; " +
		`if [ -d "$p" ]; then exit ` + strconv.Itoa(exitIsDir) + "; fi; " +
		`trap 'rm -f -- "$t"' EXIT; trap 'exit 1' HUP INT TERM PIPE; umask 077; ` +
		`cat > "$t" && chmod ` + fmt.Sprintf("%04o", uint32(perm.Perm())) + ` "$t" && sync && mv -f -- "$t" "$p" && sync`
	if r == nil {
		r = strings.NewReader("")
	}
	_, code, stderr, err := h.run(ctx, "write "+p, line, r, nil)
	if err != nil {
		return err
	}
	return h.pathErr("write", p, line, code, stderr)
}

// statFormat is GNU stat's "raw mode in hex, size, mtime in seconds".
const statFormat = "%f %s %Y"

// Stat describes path without following a final symlink ("stat -c").
func (h *shellHost) Stat(ctx context.Context, p string) (FileInfo, error) {
	if err := h.unusable(); err != nil {
		return FileInfo{}, err
	}
	abs, err := cleanAbs("stat", p)
	if err != nil {
		return FileInfo{}, h.invalid(err)
	}
	q := quote(abs)
	line := "if [ ! -e " + q + " ] && [ ! -L " + q + " ]; then exit " + strconv.Itoa(exitNotExist) + "; fi; " +
		"s=$(stat -c '" + statFormat + "' -- " + q + ") || exit 1; " +
		"l=; if [ -L " + q + " ]; then l=$(readlink -- " + q + ") || exit 1; fi; " +
		`printf '%s\0%s\0' "$s" "$l"`
	out, code, stderr, err := h.run(ctx, "stat "+p, line, nil, nil)
	if err != nil {
		return FileInfo{}, err
	}
	if err := h.pathErr("stat", p, line, code, stderr); err != nil {
		return FileInfo{}, err
	}
	fields := strings.Split(string(out), "\x00")
	if len(fields) != 3 {
		return FileInfo{}, fmt.Errorf("host %s: stat %s: unexpected output %q", h.name, p, out)
	}
	name := path.Base(abs)
	fi, err := parseStat(name, fields[0], fields[1])
	if err != nil {
		return FileInfo{}, fmt.Errorf("host %s: stat %s: %w", h.name, p, err)
	}
	return fi, nil
}

// ReadDir lists the directory path, sorted by name: one "stat -c" per
// entry, NUL-separated so that any file name survives.
func (h *shellHost) ReadDir(ctx context.Context, p string) ([]FileInfo, error) {
	if err := h.unusable(); err != nil {
		return nil, err
	}
	abs, err := cleanAbs("readdir", p)
	if err != nil {
		return nil, h.invalid(err)
	}
	q := quote(abs)
	line := "if [ ! -e " + q + " ]; then exit " + strconv.Itoa(exitNotExist) + "; fi; " +
		"if [ ! -d " + q + " ]; then exit " + strconv.Itoa(exitNotDir) + "; fi; " +
		"cd -- " + q + " || exit 1; " +
		"for f in .[!.]* ..?* *; do " +
		`if [ -e "$f" ] || [ -L "$f" ]; then ` +
		`s=$(stat -c '` + statFormat + `' -- "$f") || continue; ` +
		`l=; if [ -L "$f" ]; then l=$(readlink -- "$f"); fi; ` +
		`printf '%s\0%s\0%s\0' "$f" "$s" "$l"; ` +
		"fi; done"
	out, code, stderr, err := h.run(ctx, "readdir "+p, line, nil, nil)
	if err != nil {
		return nil, err
	}
	if err := h.pathErr("readdir", p, line, code, stderr); err != nil {
		return nil, err
	}
	fields := strings.Split(string(out), "\x00")
	if len(fields)%3 != 1 || fields[len(fields)-1] != "" {
		return nil, fmt.Errorf("host %s: readdir %s: unexpected output %q", h.name, p, out)
	}
	list := make([]FileInfo, 0, len(fields)/3)
	for i := 0; i+2 < len(fields); i += 3 {
		fi, err := parseStat(fields[i], fields[i+1], fields[i+2])
		if err != nil {
			return nil, fmt.Errorf("host %s: readdir %s: %w", h.name, p, err)
		}
		list = append(list, fi)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return list, nil
}

// parseStat reads statFormat output ("81a4 1234 1600000000").
func parseStat(name, s, link string) (FileInfo, error) {
	f := strings.Fields(s)
	if len(f) != 3 {
		return FileInfo{}, fmt.Errorf("unexpected stat output %q", s)
	}
	raw, err1 := strconv.ParseUint(f[0], 16, 32)
	size, err2 := strconv.ParseInt(f[1], 10, 64)
	mtime, err3 := strconv.ParseInt(f[2], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return FileInfo{}, fmt.Errorf("unexpected stat output %q: %w", s, err)
	}
	fi := FileInfo{Name: name, Size: size, Mode: unixMode(uint32(raw)), ModTime: time.Unix(mtime, 0)}
	if fi.Mode&fs.ModeSymlink != 0 {
		fi.LinkTarget = link
	}
	return fi, nil
}

// unixMode converts a Unix st_mode to an fs.FileMode.
func unixMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & 0o170000 {
	case 0o040000:
		mode |= fs.ModeDir
	case 0o120000:
		mode |= fs.ModeSymlink
	case 0o010000:
		mode |= fs.ModeNamedPipe
	case 0o140000:
		mode |= fs.ModeSocket
	case 0o020000:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case 0o060000:
		mode |= fs.ModeDevice
	}
	if m&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

// MkdirAll creates path and its parents ("mkdir -p -m <perm>").
func (h *shellHost) MkdirAll(ctx context.Context, p string, perm fs.FileMode) error {
	if err := h.unusable(); err != nil {
		return err
	}
	abs, err := cleanAbs("mkdir", p)
	if err != nil {
		return h.invalid(err)
	}
	line := quoteArgv([]string{"mkdir", "-p", "-m", fmt.Sprintf("%04o", uint32(perm.Perm())), "--", abs})
	_, code, stderr, err := h.run(ctx, "mkdir "+p, line, nil, nil)
	if err != nil {
		return err
	}
	return h.pathErr("mkdir", p, line, code, stderr)
}

// Containers runs "crictl ps --name <name> -o json".
func (h *shellHost) Containers(ctx context.Context, name string) ([]Container, error) {
	out, err := h.Run(ctx, nil, crictlArgv(name)...)
	if err != nil {
		return nil, err
	}
	cs, err := parseCrictlPS(out)
	if err != nil {
		return nil, fmt.Errorf("host %s: %w", h.name, err)
	}
	return cs, nil
}

// RestartKubelet runs "systemctl restart kubelet.service".
func (h *shellHost) RestartKubelet(ctx context.Context) error {
	_, err := h.Run(ctx, nil, restartKubeletArgv...)
	return err
}

// Shutdown runs "shutdown -h +<minutes>" (at least one minute, as the
// runbook's "shutdown -h 1").
func (h *shellHost) Shutdown(ctx context.Context, delay time.Duration) error {
	_, err := h.Run(ctx, nil, shutdownArgv(delay)...)
	return err
}

// Run runs argv as root on the host with stdin and returns its standard
// output; a non-zero exit is an *ExitError.
func (h *shellHost) Run(ctx context.Context, stdin io.Reader, argv ...string) ([]byte, error) {
	if err := h.unusable(); err != nil {
		return nil, err
	}
	if len(argv) == 0 {
		return nil, fmt.Errorf("host %s: run: empty command", h.name)
	}
	out, code, stderr, err := h.run(ctx, "run "+argv[0], quoteArgv(argv), stdin, nil)
	if err != nil {
		return out, err
	}
	if code != 0 {
		return out, &ExitError{Host: h.name, Argv: argv, Code: code, Stderr: stderr}
	}
	return out, nil
}
