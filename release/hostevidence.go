package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/lifeboat-dev/lifeboat/internal/names"
	"io"
	"io/fs"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/lifeboat-dev/lifeboat/host"
)

// Host paths Detect reads (all read-only).
const (
	// etcdManifestPath is the live etcd static pod manifest.
	etcdManifestPath = "/etc/kubernetes/manifests/etcd-pod.yaml"
	// stoppedEtcdManifestPath is where cluster-restore.sh (4.17) and
	// disable-etcd.sh (4.18+) move the etcd manifest to stop the pod
	// ($ASSET_DIR/manifests-stopped in etcd-common-tools).
	stoppedEtcdManifestPath = "/home/core/assets/manifests-stopped/etcd-pod.yaml"
	// staticPodResourcesDir holds etcd-pod-<N>/etcd-pod.yaml, the manifest
	// of each installed revision.
	staticPodResourcesDir = names.StaticPodResourcesDir
	// ScriptsDir is where the etcd pod's init container copies the
	// operator's scripts.
	ScriptsDir = "/usr/local/bin"
	// revisionJSONPath is written by the etcd-rev container (4.18+).
	revisionJSONPath = "/var/lib/etcd/revision.json"
	// EtcdRevContainer is the etcd static pod's container that keeps
	// revision.json ("cluster-etcd-operator rev"), 4.18+.
	EtcdRevContainer = "etcd-rev"
)

// maxHostFile bounds what is read of a manifest or script: both are a few
// kilobytes on a real host.
const maxHostFile = 1 << 20

// hostFinding is what the recovery host showed.
type hostFinding struct {
	evidence []Evidence
	gen      Generation
	caps     []Capability
}

// fromHost reads the recovery host's etcd manifests, scripts and
// revision.json. A piece of evidence indicating GenerationEtcdOnly (an
// etcd-rev container in any etcd manifest, disable-etcd.sh,
// quorum-restore.sh, a cluster-restore.sh that knows etcd-rev) decides
// GenerationEtcdOnly (revision.json is reported but decides nothing): the live manifest alone is not
// enough, since during a 4.18 restore it is the restore pod, which has no
// etcd-rev. Otherwise an etcd manifest without etcd-rev, or a
// cluster-restore.sh that does not know it, decides GenerationClassic.
// Read errors become evidence; only ctx ending is returned.
func fromHost(ctx context.Context, h host.Host) (hostFinding, error) {
	var f hostFinding
	where := func(p string) string { return h.Name() + ":" + p }
	add := func(e Evidence) { f.evidence = append(f.evidence, e) }
	stop := func(op, p string) error {
		return fmt.Errorf("release: %s %s: %w", op, where(p), ctx.Err())
	}

	manifests := []string{etcdManifestPath, stoppedEtcdManifestPath}
	if p, err := newestEtcdRevision(ctx, h); err != nil {
		if ctx.Err() != nil {
			return f, stop("listing", staticPodResourcesDir)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			add(Evidence{Source: SourceHost, Where: where(staticPodResourcesDir), Finding: "unreadable", Err: err})
		}
	} else if p != "" {
		manifests = append(manifests, p)
	}
	for _, p := range manifests {
		data, err := readBounded(ctx, h, p)
		if ctx.Err() != nil {
			return f, stop("reading", p)
		}
		if errors.Is(err, fs.ErrNotExist) {
			if p == etcdManifestPath {
				add(Evidence{Source: SourceHost, Where: where(p), Finding: "absent"})
			}
			continue
		}
		add(judgeManifest(where(p), data, err))
	}

	for _, name := range []string{"disable-etcd.sh", "quorum-restore.sh"} {
		p := ScriptsDir + "/" + name
		_, err := h.Stat(ctx, p)
		switch {
		case ctx.Err() != nil:
			return f, stop("stat", p)
		case err == nil:
			add(Evidence{Source: SourceHost, Where: where(p), Finding: "present", Generation: GenerationEtcdOnly})
		case errors.Is(err, fs.ErrNotExist):
			add(Evidence{Source: SourceHost, Where: where(p), Finding: "absent"})
		default:
			add(Evidence{Source: SourceHost, Where: where(p), Finding: "unreadable", Err: err})
		}
	}
	restore := ScriptsDir + "/cluster-restore.sh"
	data, err := readBounded(ctx, h, restore)
	if ctx.Err() != nil {
		return f, stop("reading", restore)
	}
	ev, bump := judgeRestoreScript(where(restore), data, err)
	add(ev)

	_, err = h.Stat(ctx, revisionJSONPath)
	switch {
	case ctx.Err() != nil:
		return f, stop("stat", revisionJSONPath)
	case err == nil:
		// Reported, never decisive: etcd-rev writes it on 4.18+, but a
		// recovery tool (lifeboat's own restore pod among them) may leave
		// one on an older host too.
		add(Evidence{Source: SourceHost, Where: where(revisionJSONPath), Finding: "present (etcd-rev writes it on 4.18+; not decisive alone)"})
	case errors.Is(err, fs.ErrNotExist):
		// Absence shows nothing: a classic host has none, and neither has a
		// 4.18 host whose etcd-rev has not written it yet.
	default:
		add(Evidence{Source: SourceHost, Where: where(revisionJSONPath), Finding: "unreadable", Err: err})
	}

	f.gen = GenerationUnknown
	for _, g := range []Generation{GenerationEtcdOnly, GenerationClassic} {
		for i := range f.evidence {
			if f.evidence[i].Generation == g {
				f.evidence[i].Decided = true
				f.gen = g
			}
		}
		if f.gen != GenerationUnknown {
			break
		}
	}
	if bump && f.gen == GenerationClassic {
		f.caps = append(f.caps, CapabilityRestoreBumpOptIn)
	}
	return f, nil
}

// judgeManifest reads an etcd static pod manifest's container names.
func judgeManifest(where string, data []byte, readErr error) Evidence {
	ev := Evidence{Source: SourceHost, Where: where}
	if readErr != nil {
		ev.Finding, ev.Err = "unreadable", readErr
		return ev
	}
	var pod corev1.Pod
	if err := yaml.Unmarshal(data, &pod); err != nil {
		ev.Finding, ev.Err = "not a pod manifest", err
		return ev
	}
	var names []string
	hasEtcd, hasRev := false, false
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
		hasEtcd = hasEtcd || c.Name == "etcd"
		hasRev = hasRev || c.Name == EtcdRevContainer
	}
	ev.Finding = "containers " + strings.Join(names, ", ")
	switch {
	case hasRev:
		ev.Generation = GenerationEtcdOnly
	case hasEtcd:
		ev.Generation = GenerationClassic
		ev.Finding += " (no " + EtcdRevContainer + ")"
	default:
		ev.Finding += " (no etcd container)"
	}
	return ev
}

// judgeRestoreScript reads cluster-restore.sh: 4.18's names the etcd-rev
// container and revision.json; the classic one does not. bump reports the
// opt-in revision bump of the 2023 backport.
func judgeRestoreScript(where string, data []byte, readErr error) (ev Evidence, bump bool) {
	ev = Evidence{Source: SourceHost, Where: where}
	switch {
	case errors.Is(readErr, fs.ErrNotExist):
		ev.Finding = "absent"
		return ev, false
	case readErr != nil:
		ev.Finding, ev.Err = "unreadable", readErr
		return ev, false
	case len(bytes.TrimSpace(data)) == 0:
		ev.Finding = "present, empty"
		return ev, false
	}
	bump = bytes.Contains(data, []byte("ETCD_ETCDCTL_RESTORE_ENABLE_BUMP"))
	switch {
	case bytes.Contains(data, []byte(EtcdRevContainer)) || bytes.Contains(data, []byte("revision.json")):
		ev.Finding, ev.Generation = "present, stops etcd only and knows etcd-rev", GenerationEtcdOnly
	case bump:
		ev.Finding, ev.Generation = "present, classic, with the opt-in revision bump (ETCD_ETCDCTL_RESTORE_ENABLE_BUMP)", GenerationClassic
	default:
		ev.Finding, ev.Generation = "present, classic", GenerationClassic
	}
	return ev, bump
}

// newestEtcdRevision returns the manifest path of the highest etcd-pod-<N>
// revision directory, "" when there is none.
func newestEtcdRevision(ctx context.Context, h host.Host) (string, error) {
	entries, err := h.ReadDir(ctx, staticPodResourcesDir)
	if err != nil {
		return "", err
	}
	best := -1
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name, "etcd-pod-")
		if !ok || !e.IsDir() {
			continue
		}
		if n, err := strconv.Atoi(rest); err == nil && n > best {
			best = n
		}
	}
	if best < 0 {
		return "", nil
	}
	return fmt.Sprintf("%s/etcd-pod-%d/etcd-pod.yaml", staticPodResourcesDir, best), nil
}

// readBounded reads at most maxHostFile bytes of p; a longer file is an
// error (no manifest or script is that large).
func readBounded(ctx context.Context, h host.Host, p string) ([]byte, error) {
	rc, err := h.Open(ctx, p)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxHostFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	if len(data) > maxHostFile {
		return nil, fmt.Errorf("reading %s: larger than %d bytes", p, maxHostFile)
	}
	return data, nil
}
