package offsite

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"time"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/internal/jsonkeys"
)

// manifestFormat is the version of the off-site manifest format.
const manifestFormat = 1

// manifestKind tells lifeboat's off-site manifests from other JSON.
const manifestKind = "lifeboat.offsite.backup"

// ManifestName is the name of the manifest object, under
// <prefix>/<id>/. It is written last: a backup exists for readers only
// once it is there.
const ManifestName = "lifeboat-offsite.json"

// HeadSize is the length of the prefix of an object HeadSHA256 covers.
const HeadSize = 512

// maxManifestSize bounds the manifest objects read.
const maxManifestSize = 1 << 20

// Object roles.
const (
	RoleSnapshot  = "snapshot"
	RoleResources = "resources"
)

// Codecs, in the order they are applied when writing.
const (
	CodecZstdAge = "zstd+age"
	codecAge     = "age"
)

// Destination names in Object.Destination.
const (
	destPrimary   = "primary"
	DestResources = "resources"
)

// Manifest describes one off-site backup. It is stored unencrypted as
// <prefix>/<id>/lifeboat-offsite.json at every destination holding one
// of its objects, holds no secret, and is written only after every byte
// of the objects was verified. Checksum is the sha256 of the manifest's
// JSON with Checksum empty: a manifest damaged or edited in place is
// refused with backup.ErrBadManifest.
type Manifest struct {
	Format int    `json:"format"`
	Kind   string `json:"kind"`
	// ID names the backup at the destination: the stamp of its files
	// ("2020-03-18_220218", with __POSSIBLY_DIRTY__ when forced).
	ID string `json:"id"`
	// TakenAt is when the backup was taken (the local manifest's
	// createdAt, else the stamp read in the uploader's local time).
	TakenAt time.Time `json:"takenAt"`
	// UploadedAt is when the manifest was written (UploadOptions.Now).
	UploadedAt time.Time `json:"uploadedAt"`
	// Verified is true when, during the upload, every object's plaintext
	// matched the verified local backup (size and sha256, the etcd sha256
	// trailer of the snapshot) and every stored object had the size
	// written (and, with ReadBack, the sha256).
	Verified bool `json:"verified"`
	// ReadBack is true when the stored objects were read back and their
	// sha256 checked after the upload.
	ReadBack bool `json:"readBack,omitempty"`
	// Copied from the local backup.
	ClusterVersion    string `json:"clusterVersion,omitempty"`
	EtcdVersion       string `json:"etcdVersion,omitempty"`
	EtcdServerVersion string `json:"etcdServerVersion,omitempty"`
	Revision          int64  `json:"revision"`
	PossiblyDirty     bool   `json:"possiblyDirty,omitempty"`
	EncryptionEnabled bool   `json:"encryptionEnabled,omitempty"`
	LifeboatVersion   string `json:"lifeboatVersion"`
	// Objects are the snapshot and the static resources archive.
	Objects []Object `json:"objects"`
	// Local is the backup's own backup.json, when it had one; Fetch
	// writes it back beside the files.
	Local *backup.Manifest `json:"local,omitempty"`
	// Checksum is the hex sha256 of this JSON with Checksum "".
	Checksum string `json:"checksum"`
}

// Object is one stored file of a backup.
type Object struct {
	// Role is RoleSnapshot or RoleResources.
	Role string `json:"role"`
	// Name is the file's name in the cluster-backup.sh layout.
	Name string `json:"name"`
	// Key is the object's key relative to its destination's prefix:
	// "<id>/<name>.zst.age" ("<id>/<name>.age" without compression).
	Key string `json:"key"`
	// Destination is "primary" (UploadOptions.Destination) or
	// DestResources (the other destination, UploadOptions.Resources).
	Destination string `json:"destination"`
	// Codec is CodecZstdAge, or "age" for an object stored without
	// compression (ZstdLevel NoCompression); ZstdLevel the zstd level used.
	Codec     string `json:"codec"`
	ZstdLevel int    `json:"zstdLevel,omitempty"`
	// Size and SHA256 are the plaintext's (the file as cluster-backup.sh
	// wrote it); StoredSize and StoredSHA256 the object's bytes.
	Size         int64  `json:"size"`
	SHA256       string `json:"sha256"`
	StoredSize   int64  `json:"storedSize"`
	StoredSHA256 string `json:"storedSHA256"`
	// HeadSHA256 is the sha256 of the object's first HeadSize bytes (its
	// age header, unique to the object): Fetch reads them first and
	// refuses another object put in its place (ErrMismatch) before
	// downloading it.
	HeadSHA256 string `json:"headSHA256"`
	// Recipients can decrypt the object.
	Recipients []Recipient `json:"recipients"`
}

// Object returns the object of a role, or nil.
func (m *Manifest) Object(role string) *Object {
	for i := range m.Objects {
		if m.Objects[i].Role == role {
			return &m.Objects[i]
		}
	}
	return nil
}

// Size returns the objects' total plaintext size and total stored size,
// in bytes.
func (m *Manifest) Size() (size, stored int64) {
	for _, o := range m.Objects {
		size += o.Size
		stored += o.StoredSize
	}
	return size, stored
}

// checksum is the sha256 of m's JSON with Checksum empty.
func (m *Manifest) checksum() (string, error) {
	c := *m
	c.Checksum = ""
	b, err := json.Marshal(&c)
	if err != nil {
		return "", err
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]), nil
}

// marshal seals m with its checksum.
func (m *Manifest) marshal() ([]byte, error) {
	sum, err := m.checksum()
	if err != nil {
		return nil, err
	}
	m.Checksum = sum
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// idRE is what an ID may be: a backup stamp, possibly forced.
var idRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}_\d{6}(` + backup.DirtyMarker + `)?$`)

// parseManifest parses and checks a manifest object's content: format,
// kind, checksum, ID, no key given twice, and object entries that stay
// under their ID with sizes that are not negative. Errors wrap
// backup.ErrBadManifest.
func parseManifest(b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %w", backup.ErrBadManifest, err)
	}
	if err := jsonkeys.Unique(b); err != nil {
		return nil, fmt.Errorf("%w: %w", backup.ErrBadManifest, err)
	}
	if m.Kind != manifestKind || m.Format != manifestFormat {
		return nil, fmt.Errorf("%w: kind %q format %d, this lifeboat reads %q format %d", backup.ErrBadManifest, m.Kind, m.Format, manifestKind, manifestFormat)
	}
	sum, err := m.checksum()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", backup.ErrBadManifest, err)
	}
	if sum != m.Checksum {
		return nil, fmt.Errorf("%w: checksum %s recorded, content hashes to %s", backup.ErrBadManifest, m.Checksum, sum)
	}
	if !idRE.MatchString(m.ID) {
		return nil, fmt.Errorf("%w: id %q is not a backup stamp", backup.ErrBadManifest, m.ID)
	}
	roles := map[string]bool{}
	for _, o := range m.Objects {
		switch {
		case o.Role != RoleSnapshot && o.Role != RoleResources, roles[o.Role]:
			return nil, fmt.Errorf("%w: object role %q unknown or repeated", backup.ErrBadManifest, o.Role)
		case o.Key != path.Clean(o.Key) || path.Dir(o.Key) != m.ID || o.Name == "" || o.Name != path.Base(o.Name) || o.Name[0] == '.':
			return nil, fmt.Errorf("%w: object %q (%s) is not a file under %s/", backup.ErrBadManifest, o.Key, o.Name, m.ID)
		case o.Codec != CodecZstdAge && o.Codec != codecAge:
			return nil, fmt.Errorf("%w: object %s: codec %q unknown", backup.ErrBadManifest, o.Key, o.Codec)
		case o.Destination != destPrimary && o.Destination != DestResources:
			return nil, fmt.Errorf("%w: object %s: destination %q unknown", backup.ErrBadManifest, o.Key, o.Destination)
		case o.Size < 0 || o.StoredSize < 0:
			return nil, fmt.Errorf("%w: object %s: size %d, stored size %d", backup.ErrBadManifest, o.Key, o.Size, o.StoredSize)
		}
		roles[o.Role] = true
	}
	if !roles[RoleSnapshot] || !roles[RoleResources] {
		return nil, fmt.Errorf("%w: a backup needs a snapshot and a resources object", backup.ErrBadManifest)
	}
	return &m, nil
}

// manifestKey is the manifest object's key for id.
func manifestKey(id string) string { return id + "/" + ManifestName }

// objectKey is the key of a file's object.
func objectKey(id, name, codec string) string {
	if codec == CodecZstdAge {
		return id + "/" + name + ".zst.age"
	}
	return id + "/" + name + ".age"
}
