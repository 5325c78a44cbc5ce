package backup

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/internal/atomicfile"
	"github.com/lifeboat-dev/lifeboat/internal/opterr"
)

// Components returns the static pods whose latest resources a backup
// keeps, in the order cluster-backup.sh archives them: kube-apiserver,
// kube-controller-manager, kube-scheduler, etcd. The slice is new on each
// call.
func Components() []string {
	return []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"}
}

// DefaultConfigDir is where a master keeps its static pod manifests
// (manifests/) and resources (static-pod-resources/).
const DefaultConfigDir = "/etc/kubernetes"

// ResourcesOptions configure ArchiveStaticResources. The zero value archives
// the four Components from /etc/kubernetes into
// "static_kuberesources_<YYYY-MM-DD_HHMMSS>.tar.gz" stamped now.
type ResourcesOptions struct {
	// Name is the archive's file name inside dir. Empty means
	// "static_kuberesources_<timestamp>.tar.gz" with the time from Now.
	Name string
	// ConfigDir is the host's Kubernetes configuration directory; empty
	// means /etc/kubernetes.
	ConfigDir string
	// Components to archive; nil means Components.
	Components []string
	// Logger receives what was found; nil discards it.
	Logger *slog.Logger
	// Now is the clock for the default name; nil means time.Now.
	Now func() time.Time
}

// ResourceDir is the static pod resource directory archived for one
// component.
type ResourceDir struct {
	Component string `json:"component"`
	Revision  int    `json:"revision"`
	// Path on the host, e.g. /etc/kubernetes/static-pod-resources/etcd-pod-2.
	Path string `json:"path"`
	// Source says how the revision was found: "manifest" (the live static
	// pod manifest references it) or "highest" (the manifest is missing; the
	// highest revision on disk was taken).
	Source string `json:"source"`
}

// Revision sources.
const (
	sourceManifest = "manifest"
	sourceHighest  = "highest"
)

// ResourcesResult describes a written static resources archive.
type ResourcesResult struct {
	Path   string
	Size   int64
	SHA256 string
	Dirs   []ResourceDir
	// Fallbacks names the components whose manifest was missing, so the
	// highest revision on disk was archived instead of the live one.
	Fallbacks []string
}

// ArchiveStaticResources writes the latest static pod resource directories
// of the host into a gzipped tar in dir (local to this process), with paths
// relative to the configuration directory
// ("static-pod-resources/etcd-pod-2/..."), modes and times preserved,
// mode 0600, atomically: the layout cluster-backup.sh writes and
// cluster-restore.sh reads.
//
// The archive holds no links. A symbolic link that resolves inside its
// component's directory is stored as the file or directory it leads to
// (tar -h): a restore writes the same content, and every extractor can
// write it (cluster-restore.sh's tar, and lifeboat's restore, whose host
// interface creates files and directories but no links). A link that
// leaves the component's directory, dangles or loops has no faithful copy
// and fails the archive with an error wrapping [ErrUnsafeResource].
//
// The latest revision of a component is the one its live manifest
// (/etc/kubernetes/manifests/<component>-pod.yaml) references, through a
// hostPath volume or its "revision" label. Only when the manifest is
// missing is the highest revision on disk taken; that is logged as a
// warning and reported in Fallbacks. A referenced directory that does not
// exist is an error wrapping [ErrResourcesMissing].
func ArchiveStaticResources(ctx context.Context, h host.Host, dir string, opts ResourcesOptions) (*ResourcesResult, error) {
	switch {
	case h == nil:
		return nil, opterr.Nil("backup.ArchiveStaticResources h")
	case dir == "":
		return nil, opterr.Nil("backup.ArchiveStaticResources dir")
	}
	if err := plainName("backup.ResourcesOptions.Name", opts.Name); err != nil {
		return nil, err
	}
	log := logger(opts.Logger)
	cfg := opts.ConfigDir
	if cfg == "" {
		cfg = DefaultConfigDir
	}
	comps := opts.Components
	if comps == nil {
		comps = Components()
	}
	name := opts.Name
	if name == "" {
		name = ResourcesFileName(Timestamp(now(opts.Now)), false)
	}
	res := &ResourcesResult{Path: filepath.Join(dir, name)}
	if err := findResourceDirs(ctx, h, cfg, comps, res, log); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := atomicfile.Create(res.Path, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Abort()
	if err := writeArchive(ctx, h, f, cfg, res); err != nil {
		return nil, err
	}
	if err := f.Commit(); err != nil {
		return nil, err
	}
	log.Info("static pod resources archived", "path", res.Path, "bytes", res.Size)
	return res, nil
}

// writeArchive writes the gzipped tar of res.Dirs to w and records its
// size and sha256 in res.
func writeArchive(ctx context.Context, h host.Host, w io.Writer, cfg string, res *ResourcesResult) error {
	sum := sha256.New()
	cw := &countWriter{w: io.MultiWriter(w, sum)}
	zw := gzip.NewWriter(cw)
	tw := tar.NewWriter(zw)
	for _, rd := range res.Dirs {
		if err := addTree(ctx, h, tw, rd.Path, strings.TrimPrefix(rd.Path, strings.TrimSuffix(cfg, "/")+"/")); err != nil {
			return fmt.Errorf("archiving %s: %w", rd.Path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	res.Size = cw.n
	res.SHA256 = hex.EncodeToString(sum.Sum(nil))
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// latestResourceDir finds the static pod resource directory the live
// manifest of component references (see ArchiveStaticResources), on host
// h whose Kubernetes configuration lives in configDir.
func latestResourceDir(ctx context.Context, h host.Host, configDir, component string) (ResourceDir, error) {
	resDir := path.Join(configDir, "static-pod-resources")
	manifest := path.Join(configDir, "manifests", component+"-pod.yaml")
	rd := ResourceDir{Component: component}
	data, err := h.ReadFile(ctx, manifest)
	switch {
	case err == nil:
		rev, err := manifestRevision(data, resDir, component)
		if err != nil {
			return rd, fmt.Errorf("%w: %s: %w", ErrResourcesMissing, manifest, err)
		}
		rd.Revision, rd.Source = rev, sourceManifest
	case errors.Is(err, fs.ErrNotExist):
		rev, err := highestRevision(ctx, h, resDir, component)
		if err != nil {
			return rd, err
		}
		rd.Revision, rd.Source = rev, sourceHighest
	default:
		return rd, fmt.Errorf("reading %s: %w", manifest, err)
	}
	rd.Path = path.Join(resDir, fmt.Sprintf("%s-pod-%d", component, rd.Revision))
	fi, err := h.Stat(ctx, rd.Path)
	if err != nil {
		return rd, fmt.Errorf("%w: %s (referenced by %s): %w", ErrResourcesMissing, rd.Path, manifest, err)
	}
	if !fi.IsDir() {
		return rd, fmt.Errorf("%w: %s is not a directory", ErrResourcesMissing, rd.Path)
	}
	return rd, nil
}

// manifestRevision reads the revision a static pod manifest runs: the
// resource directory of a hostPath volume, else the "revision" label, else
// the first mention of the directory in the text (what cluster-backup.sh
// greps for).
func manifestRevision(data []byte, resDir, component string) (int, error) {
	re := regexp.MustCompile("^" + regexp.QuoteMeta(resDir+"/"+component+"-pod-") + `(\d+)(/|$)`)
	var pod corev1.Pod
	if err := yaml.Unmarshal(data, &pod); err == nil {
		for _, v := range pod.Spec.Volumes {
			if v.HostPath == nil {
				continue
			}
			if m := re.FindStringSubmatch(path.Clean(v.HostPath.Path)); m != nil {
				return strconv.Atoi(m[1])
			}
		}
		if l, ok := pod.Labels["revision"]; ok {
			if n, err := strconv.Atoi(l); err == nil {
				return n, nil
			}
		}
	}
	loose := regexp.MustCompile(regexp.QuoteMeta(resDir+"/"+component+"-pod-") + `(\d+)`)
	if m := loose.FindSubmatch(data); m != nil {
		return strconv.Atoi(string(m[1]))
	}
	return 0, fmt.Errorf("the manifest references no %s/%s-pod-N directory", resDir, component)
}

// highestRevision is the largest N of resDir/<component>-pod-N.
func highestRevision(ctx context.Context, h host.Host, resDir, component string) (int, error) {
	entries, err := h.ReadDir(ctx, resDir)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrResourcesMissing, err)
	}
	prefix := component + "-pod-"
	best := -1
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name, prefix) {
			continue
		}
		n, err := strconv.Atoi(strings.TrimPrefix(e.Name, prefix))
		if err == nil && n > best {
			best = n
		}
	}
	if best < 0 {
		return 0, fmt.Errorf("%w: no %s/%sN directory", ErrResourcesMissing, resDir, prefix)
	}
	return best, nil
}

// addTree writes the host directory src and everything beneath it to tw
// under the name dst, in name order.
func addTree(ctx context.Context, h host.Host, tw *tar.Writer, src, dst string) error {
	fi, err := h.Stat(ctx, src)
	if err != nil {
		return err
	}
	a := &archiver{h: h, tw: tw, root: path.Clean(src), open: map[string]bool{}}
	return a.add(ctx, src, dst, fi)
}

// archiver writes one component's resource directory (root) to tw.
type archiver struct {
	h    host.Host
	tw   *tar.Writer
	root string
	// open are the directories being written (src paths, links resolved),
	// to refuse a directory link that loops.
	open map[string]bool
}

// maxLinkHops bounds the links followed to resolve one path, as the
// kernel's ELOOP does.
const maxLinkHops = 40

func (a *archiver) add(ctx context.Context, src, dst string, fi host.FileInfo) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if fi.Mode&fs.ModeSymlink != 0 {
		// The archive holds no links: an in-tree link is stored as what it
		// leads to, so that every extractor writes it (tar and
		// cluster-restore.sh, and lifeboat through the host interface,
		// which creates regular files and directories only).
		resolved, rfi, err := a.resolve(ctx, src)
		if err != nil {
			return fmt.Errorf("%w: %s -> %s: %v", ErrUnsafeResource, src, fi.LinkTarget, err)
		}
		if rfi.IsDir() && (a.open[resolved] || strings.HasPrefix(src+"/", resolved+"/")) {
			return fmt.Errorf("%w: %s -> %s: loops back to a directory being archived", ErrUnsafeResource, src, fi.LinkTarget)
		}
		src, fi = resolved, rfi
	}
	hdr := &tar.Header{
		Name:    dst,
		Mode:    int64(fi.Mode.Perm()),
		ModTime: fi.ModTime,
		Uname:   "root",
		Gname:   "root",
	}
	if fi.Mode&fs.ModeSetuid != 0 {
		hdr.Mode |= 0o4000
	}
	if fi.Mode&fs.ModeSetgid != 0 {
		hdr.Mode |= 0o2000
	}
	if fi.Mode&fs.ModeSticky != 0 {
		hdr.Mode |= 0o1000
	}
	switch {
	case fi.Mode.IsDir():
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
		if err := a.tw.WriteHeader(hdr); err != nil {
			return err
		}
		entries, err := a.h.ReadDir(ctx, src)
		if err != nil {
			return err
		}
		a.open[src] = true
		defer delete(a.open, src)
		for _, e := range entries {
			if err := a.add(ctx, path.Join(src, e.Name), dst+"/"+e.Name, e); err != nil {
				return err
			}
		}
		return nil
	case fi.Mode.IsRegular():
		hdr.Typeflag = tar.TypeReg
		hdr.Size = fi.Size
		rc, err := a.h.Open(ctx, src)
		if err != nil {
			return err
		}
		defer rc.Close()
		if err := a.tw.WriteHeader(hdr); err != nil {
			return err
		}
		n, err := io.Copy(a.tw, rc)
		if err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		if n != fi.Size {
			return fmt.Errorf("%s changed size while being archived (%d, now %d bytes)", src, fi.Size, n)
		}
		return nil
	default:
		// Sockets, devices and fifos have no place in static pod resources;
		// tar would store them, but nothing restores them usefully.
		return nil
	}
}

// resolve follows the link p (beneath root) element by element, through
// every link met on the way, and returns where it leads with its
// description. It fails when a step leaves root, a link is absolute and
// outside root, an element does not exist, or more than maxLinkHops links
// are followed.
func (a *archiver) resolve(ctx context.Context, p string) (string, host.FileInfo, error) {
	within := func(q string) bool { return q == a.root || strings.HasPrefix(q, a.root+"/") }
	if !within(p) {
		return "", host.FileInfo{}, fmt.Errorf("%s is not beneath %s", p, a.root)
	}
	parts := strings.Split(strings.TrimPrefix(strings.TrimPrefix(p, a.root), "/"), "/")
	cur, hops := a.root, 0
	for i := 0; i < len(parts); i++ {
		switch el := parts[i]; el {
		case "", ".":
			continue
		case "..":
			if cur == a.root {
				return "", host.FileInfo{}, fmt.Errorf("leads out of %s", a.root)
			}
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, parts[i])
		fi, err := a.h.Stat(ctx, next)
		if err != nil {
			return "", host.FileInfo{}, err
		}
		if fi.Mode&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if hops++; hops > maxLinkHops {
			return "", host.FileInfo{}, fmt.Errorf("more than %d links", maxLinkHops)
		}
		t := fi.LinkTarget
		if path.IsAbs(t) {
			t = path.Clean(t)
			if !within(t) {
				return "", host.FileInfo{}, fmt.Errorf("absolute link to %s, outside %s", t, a.root)
			}
			cur, t = a.root, strings.TrimPrefix(strings.TrimPrefix(t, a.root), "/")
		}
		parts = append(strings.Split(t, "/"), parts[i+1:]...)
		i = -1
	}
	fi, err := a.h.Stat(ctx, cur)
	return cur, fi, err
}
