package realnode

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// withSharedLibs adds to files the shared libraries (and the dynamic
// loader) the copied executables need, at the same paths, with their
// parent directories: clustertest's etcd binaries are built with cgo
// (glibc) when a C compiler is present, and the image has no libc.
// Statically linked files add nothing.
func withSharedLibs(ctx context.Context, files []imageFile) ([]imageFile, error) {
	have := map[string]bool{}
	for _, f := range files {
		have[f.path] = true
	}
	out := slices.Clone(files)
	for _, f := range files {
		if f.src == "" {
			continue
		}
		b, err := exec.CommandContext(ctx, "ldd", f.src).CombinedOutput()
		if err != nil {
			// ldd fails ("not a dynamic executable") on static files.
			if strings.Contains(string(b), "not a dynamic executable") || strings.Contains(string(b), "statically linked") {
				continue
			}
			if _, lerr := exec.LookPath("ldd"); lerr != nil {
				return nil, fmt.Errorf("realnode: ldd (libc-bin) is needed to find the libraries of %s: %w", f.src, lerr)
			}
			return nil, fmt.Errorf("realnode: ldd %s: %w: %s", f.src, err, b)
		}
		for _, line := range strings.Split(string(b), "\n") {
			fields := strings.Fields(line)
			var lib string
			switch {
			case len(fields) >= 3 && fields[1] == "=>" && strings.HasPrefix(fields[2], "/"):
				lib = fields[2]
			case len(fields) >= 1 && strings.HasPrefix(fields[0], "/"):
				lib = fields[0]
			default:
				continue
			}
			rel := strings.TrimPrefix(filepath.Clean(lib), "/")
			if have[rel] {
				continue
			}
			for dir := filepath.Dir(rel); dir != "." && !have[dir]; dir = filepath.Dir(dir) {
				have[dir] = true
				out = append(out, imageFile{path: dir, dir: true})
			}
			have[rel] = true
			real, err := filepath.EvalSymlinks(lib)
			if err != nil {
				return nil, fmt.Errorf("realnode: library %s of %s: %w", lib, f.src, err)
			}
			out = append(out, imageFile{path: rel, src: real, mode: 0o755})
		}
	}
	// Directories before their files: sort by depth, keeping order
	// otherwise.
	slices.SortStableFunc(out, func(a, b imageFile) int {
		if a.dir != b.dir {
			if a.dir {
				return -1
			}
			return 1
		}
		if a.dir {
			return strings.Count(a.path, "/") - strings.Count(b.path, "/")
		}
		return 0
	})
	return out, nil
}
