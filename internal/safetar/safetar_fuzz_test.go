package safetar

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// seedArchives are realistic static-pod-resources archives, gzipped and
// plain, plus the shapes the refusal tests use.
func seedArchives(t testing.TB) [][]byte {
	mkTar := func(t testing.TB, gz bool, ents ...ent) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		var w io.Writer = &buf
		if gz {
			w = zw
		}
		tw := tar.NewWriter(w)
		for _, e := range ents {
			h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644, Linkname: e.link, Format: tar.FormatPAX}
			if e.typ == tar.TypeReg {
				h.Size = int64(len(e.body))
			}
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
			io.WriteString(tw, e.body)
		}
		tw.Close()
		if gz {
			zw.Close()
		}
		return buf.Bytes()
	}
	good := []ent{
		{name: "static-pod-resources/", typ: tar.TypeDir},
		{name: "static-pod-resources/etcd-pod-3/", typ: tar.TypeDir},
		{name: "static-pod-resources/etcd-pod-3/etcd-pod.yaml", typ: tar.TypeReg, body: "apiVersion: v1\nkind: Pod\n"},
		{name: "static-pod-resources/etcd-pod-3/secrets/etcd-all-certs/tls.crt", typ: tar.TypeReg, body: "-----BEGIN CERTIFICATE-----\n"},
		{name: "static-pod-resources/kube-apiserver-pod-7/kube-apiserver-pod.yaml", typ: tar.TypeReg, body: "kind: Pod\n"},
		{name: "static-pod-resources/kube-apiserver-pod-7/cur", typ: tar.TypeSymlink, link: "kube-apiserver-pod.yaml"},
		{name: "static-pod-resources/kube-apiserver-pod-7/hard", typ: tar.TypeLink, link: "static-pod-resources/kube-apiserver-pod-7/kube-apiserver-pod.yaml"},
	}
	return [][]byte{
		mkTar(t, true, good...),
		mkTar(t, false, good...),
		mkTar(t, true, good[0], ent{name: "../evil", typ: tar.TypeReg, body: "x"}),
		mkTar(t, false, ent{name: "p", typ: tar.TypeSymlink, link: "."}, ent{name: "t", typ: tar.TypeSymlink, link: "p/.."}),
		mkTar(t, true, good...)[:60],
	}
}

// FuzzCheck validates arbitrary archives (gzip or plain): an error or a
// list of entries whose names are clean and relative; never a panic.
func FuzzCheck(f *testing.F) {
	for _, b := range seedArchives(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := Check(t.Context(), bytes.NewReader(b), Options{MaxFileSize: 1 << 20, MaxTotalSize: 4 << 20, MaxEntries: 1000})
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.Name == "" || strings.HasPrefix(e.Name, "/") || e.Name == ".." || strings.HasPrefix(e.Name, "../") || strings.Contains(e.Name, "/../") {
				t.Fatalf("Check accepted entry %q", e.Name)
			}
		}
	})
}

// FuzzExtract extracts arbitrary archives into a directory below a
// sentinel parent: whatever the archive, nothing may appear outside the
// directory, and nothing may panic.
func FuzzExtract(f *testing.F) {
	for _, b := range seedArchives(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "dst")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		_, _ = Extract(context.Background(), opener(b), mustDirTarget(t, dir), dir, Options{MaxFileSize: 1 << 20, MaxTotalSize: 4 << 20, MaxEntries: 1000})
		err := filepath.WalkDir(parent, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p != parent && p != dir && !strings.HasPrefix(p, dir+string(filepath.Separator)) {
				t.Errorf("extraction wrote %s outside %s", p, dir)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func mustDirTarget(t *testing.T, dir string) *DirTarget {
	t.Helper()
	d, err := NewDirTarget(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}
