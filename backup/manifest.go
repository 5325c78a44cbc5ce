package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/internal/atomicfile"
	"github.com/lifeboat-dev/lifeboat/internal/jsonkeys"
	"github.com/lifeboat-dev/lifeboat/internal/opterr"
)

// ManifestFormat is the version of the backup.json format.
const ManifestFormat = 1

// Manifest is lifeboat's description of a backup, saved as backup.json
// beside the snapshot and the archive. It adds to the layout
// cluster-backup.sh writes and never replaces it: a backup without it is
// still whole. It holds no secret (no proxy URLs, no keys).
type Manifest struct {
	Format    int       `json:"format"`
	Timestamp string    `json:"timestamp"`
	CreatedAt time.Time `json:"createdAt"`
	// PossiblyDirty is set when the backup was forced past the operator
	// check (the files carry the __POSSIBLY_DIRTY__ marker).
	PossiblyDirty bool `json:"possiblyDirty,omitempty"`
	// ClusterVersion is the OpenShift z-stream the backup was taken from
	// ("" when it could not be read); restore needs the same one.
	ClusterVersion string `json:"clusterVersion,omitempty"`
	// EtcdVersion is the version etcd sent with the snapshot (its storage
	// version); EtcdServerVersion the serving member's binary version.
	EtcdVersion       string `json:"etcdVersion,omitempty"`
	EtcdServerVersion string `json:"etcdServerVersion,omitempty"`
	// Revision is the etcd revision when the snapshot began.
	Revision int64  `json:"revision"`
	DBSize   int64  `json:"dbSize,omitempty"`
	Member   Member `json:"member"`
	// Encryption is the APIServer encryption type; when enabled the
	// archive holds the encryption keys and should be stored apart from
	// the snapshot.
	Encryption        string        `json:"encryption,omitempty"`
	EncryptionEnabled bool          `json:"encryptionEnabled"`
	LifeboatVersion   string        `json:"lifeboatVersion"`
	Snapshot          ManifestFile  `json:"snapshot"`
	Resources         ManifestFile  `json:"resources"`
	ResourceDirs      []ResourceDir `json:"resourceDirs"`
}

// ManifestFile records one file of the backup.
type ManifestFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// DBSHA256 is, for the snapshot, the sha256 of the database part (the
	// trailer etcd appended).
	DBSHA256 string `json:"dbSHA256,omitempty"`
}

// WriteManifest writes m as dir/backup.json, mode 0600, atomically. An
// empty dir or a nil m is a *lifeboat.OptionsError (nothing is written).
func WriteManifest(dir string, m *Manifest) error {
	switch {
	case dir == "":
		return opterr.Nil("backup.WriteManifest dir")
	case m == nil:
		return opterr.Nil("backup.WriteManifest m")
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, ManifestFileName), bytes.NewReader(append(b, '\n')), 0o600)
}

// ReadManifest reads dir/backup.json. A missing file is an error wrapping
// fs.ErrNotExist; a malformed one, or one that is not a regular file or
// is larger than 1 MiB, wraps ErrBadManifest.
func ReadManifest(dir string) (*Manifest, error) {
	p := filepath.Join(dir, ManifestFileName)
	// Stat before opening: opening a FIFO would block until a writer came.
	if fi, err := os.Stat(p); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file (%s)", ErrBadManifest, p, fi.Mode().Type())
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxManifestSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxManifestSize {
		return nil, fmt.Errorf("%w: %s is more than %d bytes", ErrBadManifest, f.Name(), maxManifestSize)
	}
	return parseManifest(b)
}

// readManifestOn reads dir/backup.json on h, with ReadManifest's errors.
func readManifestOn(ctx context.Context, h host.Host, dir string) (*Manifest, error) {
	fi, err := h.Stat(ctx, path.Join(dir, ManifestFileName))
	if err != nil {
		return nil, err
	}
	if fi.Size > maxManifestSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrBadManifest, fi.Size, maxManifestSize)
	}
	b, err := h.ReadFile(ctx, path.Join(dir, ManifestFileName))
	if err != nil {
		return nil, err
	}
	return parseManifest(b)
}

// maxManifestSize bounds the backup.json readManifestOn reads.
const maxManifestSize = 1 << 20

// parseManifest parses the content of a backup.json. Errors wrap
// ErrBadManifest: malformed JSON, a value of the wrong type, a key given
// twice in one object (which readers would resolve differently), another
// format, or a negative size or revision.
func parseManifest(b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadManifest, err)
	}
	if err := jsonkeys.Unique(b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadManifest, err)
	}
	if m.Format != ManifestFormat {
		return nil, fmt.Errorf("%w: format %d, this lifeboat reads %d", ErrBadManifest, m.Format, ManifestFormat)
	}
	for _, v := range []struct {
		name string
		n    int64
	}{{"revision", m.Revision}, {"dbSize", m.DBSize}, {"snapshot.size", m.Snapshot.Size}, {"resources.size", m.Resources.Size}} {
		if v.n < 0 {
			return nil, fmt.Errorf("%w: %s %d is negative", ErrBadManifest, v.name, v.n)
		}
	}
	return &m, nil
}

const modulePath = "github.com/lifeboat-dev/lifeboat"

// Version is the version of lifeboat compiled into the running program
// ("(devel)" when built from a work tree).
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	if bi.Main.Path == modulePath {
		return bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == modulePath {
			if d.Replace != nil {
				return d.Replace.Version
			}
			return d.Version
		}
	}
	return "(devel)"
}
