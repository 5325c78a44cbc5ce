package safetar

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

type ent struct {
	name string
	typ  byte
	body string
	link string
	mode int64
	size int64 // overrides len(body) in the header when > 0
}

func mkTar(t *testing.T, gz bool, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.Writer = &buf
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		w = zw
	}
	tw := tar.NewWriter(w)
	for _, e := range ents {
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: mode, Linkname: e.link, Format: tar.FormatPAX}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("header %q: %v", e.name, err)
		}
		if e.typ == tar.TypeReg {
			if _, err := io.WriteString(tw, e.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func opener(b []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

// tree lists every path under dir with its type, for "nothing was written"
// checks.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(dir, p)
		out = append(out, r+":"+fi.Mode().Type().String())
		return nil
	})
	sort.Strings(out)
	return out
}

func TestExtractRefusals(t *testing.T) {
	good := ent{name: "static-pod-resources/etcd-pod-3/etcd-pod.yaml", typ: tar.TypeReg, body: "kind: Pod\n"}
	cases := []struct {
		name string
		ents []ent
		want error
	}{
		{"dotdot", []ent{good, {name: "../evil", typ: tar.TypeReg, body: "x"}}, ErrUnsafeEntry},
		{"dotdot inside", []ent{good, {name: "a/../../evil", typ: tar.TypeReg, body: "x"}}, ErrUnsafeEntry},
		{"dotdot harmless looking", []ent{{name: "a/b/../c", typ: tar.TypeReg, body: "x"}}, ErrUnsafeEntry},
		{"absolute", []ent{good, {name: "/etc/passwd", typ: tar.TypeReg, body: "x"}}, ErrUnsafeEntry},
		{"backslash", []ent{{name: `a\..\..\b`, typ: tar.TypeReg, body: "x"}}, ErrUnsafeEntry},
		{"symlink absolute", []ent{good, {name: "l", typ: tar.TypeSymlink, link: "/etc"}}, ErrUnsafeEntry},
		{"symlink escape", []ent{good, {name: "a/l", typ: tar.TypeSymlink, link: "../../etc"}}, ErrUnsafeEntry},
		{"symlink escape via link to dot", []ent{
			{name: "p", typ: tar.TypeSymlink, link: "."},
			{name: "t", typ: tar.TypeSymlink, link: "p/.."},
		}, ErrUnsafeEntry},
		{"symlink escape via link defined later", []ent{
			{name: "t", typ: tar.TypeSymlink, link: "p/.."},
			{name: "p", typ: tar.TypeSymlink, link: "."},
		}, ErrUnsafeEntry},
		{"symlink chain escape", []ent{
			{name: "a/b/up", typ: tar.TypeSymlink, link: "../.."},
			{name: "a/b/out", typ: tar.TypeSymlink, link: "up/.."},
		}, ErrUnsafeEntry},
		{"symlink loop", []ent{
			{name: "x", typ: tar.TypeSymlink, link: "y"},
			{name: "y", typ: tar.TypeSymlink, link: "x"},
			{name: "z", typ: tar.TypeSymlink, link: "x/a"},
		}, ErrUnsafeEntry},
		{"write through symlink", []ent{
			{name: "d", typ: tar.TypeSymlink, link: "e"},
			{name: "d/file", typ: tar.TypeReg, body: "x"},
		}, ErrUnsafeEntry},
		{"hardlink escape", []ent{good, {name: "h", typ: tar.TypeLink, link: "../../etc/shadow"}}, ErrUnsafeEntry},
		{"hardlink absolute", []ent{good, {name: "h", typ: tar.TypeLink, link: "/etc/shadow"}}, ErrUnsafeEntry},
		{"hardlink to missing", []ent{{name: "h", typ: tar.TypeLink, link: "nothere"}}, ErrUnsafeEntry},
		{"char device", []ent{good, {name: "null", typ: tar.TypeChar}}, ErrUnsafeEntry},
		{"block device", []ent{good, {name: "sda", typ: tar.TypeBlock}}, ErrUnsafeEntry},
		{"fifo", []ent{good, {name: "pipe", typ: tar.TypeFifo}}, ErrUnsafeEntry},
	}
	for _, tc := range cases {
		for _, gz := range []bool{false, true} {
			name := tc.name
			if gz {
				name += "/gzip"
			}
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				if err := os.WriteFile(filepath.Join(dir, "existing"), []byte("keep"), 0o600); err != nil {
					t.Fatal(err)
				}
				before := tree(t, dir)
				dt, err := NewDirTarget(dir)
				if err != nil {
					t.Fatal(err)
				}
				defer dt.Close()
				_, err = Extract(context.Background(), opener(mkTar(t, gz, tc.ents...)), dt, "/", Options{})
				if !errors.Is(err, tc.want) {
					t.Fatalf("Extract error = %v, want %v", err, tc.want)
				}
				var ee *EntryError
				if !errors.As(err, &ee) {
					t.Fatalf("error %v is not an *EntryError", err)
				}
				if after := tree(t, dir); strings.Join(after, ",") != strings.Join(before, ",") {
					t.Fatalf("destination changed by a refused archive:\nbefore %v\nafter  %v", before, after)
				}
			})
		}
	}
}

func TestExtractLimits(t *testing.T) {
	big := strings.Repeat("x", 100)
	cases := []struct {
		name string
		opts Options
		ents []ent
		want error
	}{
		{"file too large", Options{MaxFileSize: 99}, []ent{{name: "f", typ: tar.TypeReg, body: big}}, ErrTooLarge},
		{"total too large", Options{MaxTotalSize: 150}, []ent{{name: "f", typ: tar.TypeReg, body: big}, {name: "g", typ: tar.TypeReg, body: big}}, ErrTooLarge},
		{"too many entries", Options{MaxEntries: 2}, []ent{{name: "a", typ: tar.TypeDir}, {name: "b", typ: tar.TypeDir}, {name: "c", typ: tar.TypeDir}}, ErrTooLarge},
		{"within limits", Options{MaxFileSize: 100, MaxTotalSize: 200, MaxEntries: 2}, []ent{{name: "f", typ: tar.TypeReg, body: big}, {name: "g", typ: tar.TypeReg, body: big}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Check(context.Background(), bytes.NewReader(mkTar(t, true, tc.ents...)), tc.opts)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Check error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCheckTruncated(t *testing.T) {
	b := mkTar(t, false, ent{name: "f", typ: tar.TypeReg, body: strings.Repeat("y", 4096)})
	_, err := Check(context.Background(), bytes.NewReader(b[:1024]), Options{})
	if err == nil {
		t.Fatal("Check accepted a truncated archive")
	}
}

func TestExtractGood(t *testing.T) {
	ents := []ent{
		{name: "static-pod-resources/", typ: tar.TypeDir, mode: 0o755},
		{name: "static-pod-resources/etcd-pod-3/etcd-pod.yaml", typ: tar.TypeReg, body: "etcd", mode: 0o600},
		{name: "./static-pod-resources/kube-apiserver-pod-7/kube-apiserver-pod.yaml", typ: tar.TypeReg, body: "kas", mode: 0o4755},
		{name: "static-pod-resources/etcd-pod-3/secrets/current", typ: tar.TypeSymlink, link: "../etcd-pod.yaml"},
		{name: "static-pod-resources/etcd-pod-3/hard", typ: tar.TypeLink, link: "static-pod-resources/etcd-pod-3/etcd-pod.yaml"},
		{name: "other/ignored", typ: tar.TypeReg, body: "no"},
	}
	dir := t.TempDir()
	dt, err := NewDirTarget(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer dt.Close()
	var seen []string
	done, err := Extract(context.Background(), opener(mkTar(t, true, ents...)), dt, "/", Options{
		Include: func(n string) bool { return strings.HasPrefix(n, "static-pod-resources") },
		BeforeWrite: func(ctx context.Context, dst string, e Entry, content []byte) error {
			seen = append(seen, dst)
			if int64(len(content)) != e.Size {
				t.Errorf("content of %s: %d bytes, want %d", dst, len(content), e.Size)
			}
			return nil
		},
	})
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	if len(done) != 5 {
		t.Errorf("extracted %d entries, want 5: %+v", len(done), done)
	}
	if len(seen) != 2 {
		t.Errorf("BeforeWrite saw %v, want the two regular files", seen)
	}
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read("static-pod-resources/etcd-pod-3/etcd-pod.yaml"); got != "etcd" {
		t.Errorf("etcd-pod.yaml = %q", got)
	}
	if got := read("static-pod-resources/etcd-pod-3/secrets/current"); got != "etcd" {
		t.Errorf("symlink reads %q", got)
	}
	if got := read("static-pod-resources/etcd-pod-3/hard"); got != "etcd" {
		t.Errorf("hard link reads %q", got)
	}
	fi, err := os.Stat(filepath.Join(dir, "static-pod-resources/kube-apiserver-pod-7/kube-apiserver-pod.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != 0o755 {
		t.Errorf("mode = %v, want set-uid dropped (0755)", fi.Mode())
	}
	if _, err := os.Stat(filepath.Join(dir, "other")); !os.IsNotExist(err) {
		t.Errorf("excluded entry was written (stat err %v)", err)
	}
}

func TestBeforeWriteSkip(t *testing.T) {
	dir := t.TempDir()
	dt, _ := NewDirTarget(dir)
	defer dt.Close()
	_, err := Extract(context.Background(), opener(mkTar(t, false, ent{name: "a", typ: tar.TypeReg, body: "new"}, ent{name: "b", typ: tar.TypeReg, body: "b"})), dt, "/", Options{
		BeforeWrite: func(ctx context.Context, dst string, e Entry, content []byte) error {
			if dst == "/a" {
				return ErrSkipWrite
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); !os.IsNotExist(err) {
		t.Errorf("skipped file was written")
	}
	if _, err := os.Stat(filepath.Join(dir, "b")); err != nil {
		t.Errorf("b: %v", err)
	}
}

// hostLike is a Target without links, like a host.Host.
type hostLike struct{ *DirTarget }

func (h hostLike) MkdirAll(ctx context.Context, p string, perm os.FileMode) error {
	return h.DirTarget.MkdirAll(ctx, p, perm)
}

func TestLinksUnsupportedWritesNothing(t *testing.T) {
	dir := t.TempDir()
	dt, _ := NewDirTarget(dir)
	defer dt.Close()
	var target Target = struct {
		Target
	}{hostLike{dt}}
	_, err := Extract(context.Background(), opener(mkTar(t, false, ent{name: "a", typ: tar.TypeReg, body: "x"}, ent{name: "l", typ: tar.TypeSymlink, link: "a"})), target, "/sub", Options{})
	if !errors.Is(err, ErrLinksUnsupported) {
		t.Fatalf("err = %v, want ErrLinksUnsupported", err)
	}
	if got := tree(t, dir); len(got) != 1 {
		t.Fatalf("written: %v", got)
	}
}

// TestFuzzNames throws random names built from dangerous pieces at Check
// and asserts the invariant: whatever is accepted stays inside the tree.
func TestFuzzNames(t *testing.T) {
	pieces := []string{"..", ".", "a", "b", "/", "//", "c/..", "../", "x\\y", "etc", ""}
	rng := rand.New(rand.NewSource(1))
	root := t.TempDir()
	accepted, refused := 0, 0
	for i := 0; i < 1500; i++ {
		var ents []ent
		for j := 0; j < 1+rng.Intn(4); j++ {
			var sb strings.Builder
			for k := 0; k < 1+rng.Intn(5); k++ {
				sb.WriteString(pieces[rng.Intn(len(pieces))])
				if rng.Intn(2) == 0 {
					sb.WriteString("/")
				}
			}
			n := strings.TrimRight(sb.String(), "/")
			if n == "" {
				n = "f"
			}
			e := ent{name: n, typ: tar.TypeReg, body: "z"}
			if rng.Intn(3) == 0 {
				e = ent{name: n, typ: tar.TypeSymlink, link: strings.TrimSuffix(sb.String(), "/") + "/" + pieces[rng.Intn(len(pieces))]}
				if strings.TrimSuffix(e.link, "/") == "" {
					e.link = "."
				}
			}
			ents = append(ents, e)
		}
		b := mkTar(t, false, ents...)
		parent := filepath.Join(root, fmt.Sprint(i))
		dir := filepath.Join(parent, "dst")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		dt, err := NewDirTarget(dir)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Extract(context.Background(), opener(b), dt, "/", Options{})
		dt.Close()
		if err != nil && !errors.Is(err, ErrUnsafeEntry) {
			// Accepted archives may still fail on the filesystem (a file
			// where a directory is expected); that must not be an escape.
			var ee *EntryError
			if !errors.As(err, &ee) {
				t.Fatalf("case %d: unexpected error type %T %v", i, err, err)
			}
		}
		if errors.Is(err, ErrUnsafeEntry) {
			refused++
		}
		if err == nil {
			accepted++
			for _, e := range ents {
				if strings.HasPrefix(e.name, "/") || strings.Contains("/"+e.name+"/", "/../") {
					t.Fatalf("case %d: accepted dangerous name %q", i, e.name)
				}
			}
		}
		// Nothing may appear beside dir.
		entries, _ := os.ReadDir(parent)
		for _, de := range entries {
			if de.Name() != "dst" {
				t.Fatalf("case %d: %q appeared outside the destination", i, de.Name())
			}
		}
	}
	t.Logf("accepted %d, refused %d", accepted, refused)
	if accepted == 0 || refused == 0 {
		t.Fatalf("fuzz cases do not cover both outcomes: accepted %d, refused %d", accepted, refused)
	}
}
