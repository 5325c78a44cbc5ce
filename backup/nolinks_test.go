package backup

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// noLinks is an extraction target that creates files and directories
// only, as a host.Host does.
type noLinks struct{ dir string }

func (n noLinks) MkdirAll(ctx context.Context, p string, perm fs.FileMode) error {
	return os.MkdirAll(filepath.Join(n.dir, p), perm)
}

func (n noLinks) WriteFile(ctx context.Context, p string, r io.Reader, perm fs.FileMode) error {
	f, err := os.OpenFile(filepath.Join(n.dir, p), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
