package realnode

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Images the node has (imported by New; the pause image is containerd's
// sandbox image). None is pulled from a registry: pods must name them with
// imagePullPolicy IfNotPresent or Never (the default for a tag that is not
// "latest").
const (
	// pauseImage holds /pause, a static Go binary that waits for SIGTERM.
	pauseImage = "localhost/lifeboat/pause:realnode"
	// DebugImage is busybox (Debian's busybox-static, every applet linked
	// in /bin): it has sh and chroot, what debugpod.Host needs. Its PATH
	// also names crictl's directory and CONTAINER_RUNTIME_ENDPOINT this
	// node's containerd, so that "chroot /host crictl ps" works as on
	// RHCOS, where crictl is in /usr/bin and /etc/crictl.yaml names CRI-O.
	DebugImage = "localhost/lifeboat/busybox:realnode"
	// EtcdImage is DebugImage plus etcd, etcdctl and etcdutl in /usr/bin
	// (clustertest's binaries), for etcd static pods.
	EtcdImage = "localhost/lifeboat/etcd:realnode"
)

// imageFile is one file of an image layer: a copy of src, a symlink, or a
// directory.
type imageFile struct {
	path string // inside the image, no leading slash
	src  string // host file to copy
	link string // symlink target
	dir  bool
	mode int64
}

type imageSpec struct {
	ref        string
	files      []imageFile
	env        []string
	entrypoint []string
	cmd        []string
}

// pauseSource is the sandbox's only process.
const pauseSource = `package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGINT, syscall.SIGTERM)
	<-c
}
`

// buildPause compiles the pause binary (static, CGO off) into dir.
func buildPause(ctx context.Context, goBin, dir string) (string, error) {
	src := filepath.Join(dir, "pause.go")
	if err := os.WriteFile(src, []byte(pauseSource), 0o644); err != nil {
		return "", fmt.Errorf("realnode: pause: %w", err)
	}
	out := filepath.Join(dir, "pause")
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", out, src)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GO111MODULE=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("realnode: building the pause binary: %w: %s", err, b)
	}
	return out, nil
}

// busyboxFiles are /bin/busybox and a symlink for each of its applets.
func busyboxFiles(ctx context.Context, busybox string) ([]imageFile, error) {
	out, err := exec.CommandContext(ctx, busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("realnode: %s --list: %w", busybox, err)
	}
	files := []imageFile{
		{path: "bin", dir: true}, {path: "usr", dir: true}, {path: "usr/bin", dir: true},
		{path: "tmp", dir: true, mode: 0o1777}, {path: "etc", dir: true}, {path: "var", dir: true},
		{path: "bin/busybox", src: busybox},
	}
	for _, a := range strings.Fields(string(out)) {
		if a == "busybox" || strings.Contains(a, "/") {
			continue
		}
		files = append(files, imageFile{path: "bin/" + a, link: "busybox"})
	}
	return files, nil
}

// writeImageArchive writes spec as an OCI image layout archive (one
// uncompressed layer) to dst, the format "ctr images import" reads; the
// image is named by the io.containerd.image.name annotation.
func writeImageArchive(dst, tmpDir string, spec imageSpec) error {
	layer, err := os.CreateTemp(tmpDir, "layer-")
	if err != nil {
		return err
	}
	defer os.Remove(layer.Name())
	defer layer.Close()
	layerSum := sha256.New()
	if err := writeLayer(io.MultiWriter(layer, layerSum), spec.files); err != nil {
		return fmt.Errorf("realnode: image %s: layer: %w", spec.ref, err)
	}
	layerSize, err := layer.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	layerDigest := "sha256:" + hex.EncodeToString(layerSum.Sum(nil))
	created := time.Unix(0, 0).UTC().Format(time.RFC3339)
	cfg, err := json.Marshal(map[string]any{
		"created": created, "architecture": runtime.GOARCH, "os": "linux",
		"config": map[string]any{"Env": spec.env, "Entrypoint": spec.entrypoint, "Cmd": spec.cmd},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{layerDigest}},
	})
	if err != nil {
		return err
	}
	desc := func(mt string, b []byte) map[string]any {
		return map[string]any{"mediaType": mt, "digest": digest(b), "size": len(b)}
	}
	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": desc("application/vnd.oci.image.config.v1+json", cfg),
		"layers": []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layerDigest, "size": layerSize}},
	})
	if err != nil {
		return err
	}
	md := desc("application/vnd.oci.image.manifest.v1+json", manifest)
	md["platform"] = map[string]string{"architecture": runtime.GOARCH, "os": "linux"}
	md["annotations"] = map[string]string{"io.containerd.image.name": spec.ref, "org.opencontainers.image.ref.name": spec.ref[strings.LastIndexByte(spec.ref, ':')+1:]}
	index, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []any{md}})
	if err != nil {
		return err
	}

	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	add := func(name string, b []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	blob := func(d string) string { return "blobs/sha256/" + strings.TrimPrefix(d, "sha256:") }
	if err := add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	if err := add("index.json", index); err != nil {
		return err
	}
	if err := add(blob(digest(manifest)), manifest); err != nil {
		return err
	}
	if err := add(blob(digest(cfg)), cfg); err != nil {
		return err
	}
	if _, err := layer.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: blob(layerDigest), Mode: 0o644, Size: layerSize, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := io.Copy(tw, layer); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// writeLayer writes files as a layer tar (owned by root, epoch mtimes).
func writeLayer(w io.Writer, files []imageFile) error {
	tw := tar.NewWriter(w)
	for _, f := range files {
		h := &tar.Header{Name: f.path, Mode: f.mode, ModTime: time.Unix(0, 0)}
		switch {
		case f.dir:
			h.Typeflag, h.Name = tar.TypeDir, f.path+"/"
			if h.Mode == 0 {
				h.Mode = 0o755
			}
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
		case f.link != "":
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, f.link, 0o777
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
		default:
			if err := copyIntoTar(tw, h, f.src); err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

func copyIntoTar(tw *tar.Writer, h *tar.Header, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	h.Typeflag, h.Size = tar.TypeReg, fi.Size()
	if h.Mode == 0 {
		h.Mode = 0o755
	}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	_, err = io.Copy(tw, in)
	return err
}
