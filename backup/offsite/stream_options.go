package offsite

import (
	"log/slog"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"

	configclient "github.com/openshift/client-go/config/clientset/versioned"

	"github.com/lifeboat-dev/lifeboat/host"
)

// DefaultStreamConcurrency is the number of parts of one object Stream
// uploads at once when StreamOptions.Concurrency is 0.
const DefaultStreamConcurrency = 2

// StreamOptions configure Stream and StreamPlan. Host, Destination (with its
// Recipients) and, unless Force, Config are required; every other zero
// value is documented on its field.
type StreamOptions struct {
	// Host is the master whose static pod resources are archived (the
	// runbook's "oc debug node/<master>; chroot /host"). Required.
	Host host.Host
	// Config reads the ClusterOperators, ClusterVersion, Proxy and
	// APIServer objects for the pre-checks backup.TakePlan makes. Required
	// unless Force; with Force, nil leaves the cluster information out.
	Config configclient.Interface
	// Force skips the ClusterOperator check, as cluster-backup.sh --force
	// does, and marks the backup __POSSIBLY_DIRTY__.
	Force bool
	// Endpoint is the etcd client URL to snapshot; empty means the first
	// healthy voting follower (see backup.Snapshot).
	Endpoint string
	// ConfigDir is the host's Kubernetes configuration directory; empty
	// means /etc/kubernetes.
	ConfigDir string
	// MinClusterAge is the minimum time since installation; 0 means 24 h
	// (backup.DefaultMinClusterAge). Negative disables the check.
	MinClusterAge time.Duration

	// Destination receives the snapshot, the manifest and (unless
	// Resources says otherwise) the static resources archive; see
	// UploadOptions.Destination.
	Destination Destination
	// Resources sends the static resources archive to other recipients
	// and, if wanted, another bucket; see UploadOptions.Resources.
	Resources *Destination
	// ZstdLevel is as UploadOptions.ZstdLevel: 0 means DefaultZstdLevel,
	// NoCompression stores age-encrypted plaintext.
	ZstdLevel int
	// ReadBack re-reads every stored object and checks its sha256 before
	// the manifest is written; see UploadOptions.ReadBack.
	ReadBack bool
	// Retry bounds the attempts per object. Each attempt re-takes its
	// source: a new snapshot from etcd (the stream cannot be re-read, and
	// nothing is spooled to disk), a new archive from the host.
	Retry RetryOptions
	// PartSize is the size in bytes of the parts of a multipart upload;
	// 0 means DefaultS3PartSize for S3 and the driver's default
	// elsewhere. S3 refuses parts under 5 MiB (but the last). Memory use is about
	// PartSize × (Concurrency+1) plus the zstd encoder's window (8 MiB at
	// the default level) plus, while the storage takes the data slower
	// than etcd sends it, the etcd connection's flow-control window (8 MiB
	// for a client from etcdconn), whatever the database size.
	PartSize int
	// Concurrency is how many parts of an object upload at once; 0 means
	// DefaultStreamConcurrency.
	Concurrency int

	// LocalDir, when set, also writes the backup there in the
	// cluster-backup.sh layout (snapshot_<stamp>.db,
	// static_kuberesources_<stamp>.tar.gz, backup.json, mode 0600): the
	// same bytes go to the disk and to the destination in one pass (a
	// tee). The local files are committed (renamed from .part) only once
	// their object is stored; a failed Stream leaves none. Empty means
	// nothing is written to the master's disk.
	LocalDir string
	// FreeSpace measures the bytes available in LocalDir; nil means
	// statfs. Only used with LocalDir.
	FreeSpace func(dir string) (uint64, error)

	// Result, when set, receives what was stored once a StreamPlan run
	// published the manifest (Stream also returns it).
	Result *StreamResult

	// Now is the clock for the backup's stamp, the checks and the
	// manifest; nil means time.Now.
	Now func() time.Time
	// Logger receives the procedure's records (never a key nor a URL's
	// query); nil discards them.
	Logger *slog.Logger
}

// upload is the part of o that UploadOptions describes.
func (o StreamOptions) upload() UploadOptions {
	return UploadOptions{
		Destination: o.Destination,
		Resources:   o.Resources,
		ZstdLevel:   o.ZstdLevel,
		ReadBack:    o.ReadBack,
		Retry:       o.Retry,
		PartSize:    o.PartSize,
		Now:         o.Now,
		Logger:      o.Logger,
	}
}

// Validate checks the options without any I/O; errors are a
// *lifeboat.OptionsError (lifeboat.ErrInvalidOptions) naming the field,
// e.g. "offsite.StreamOptions.Host". Stream calls it first.
func (o StreamOptions) Validate() error {
	if o.Host == nil {
		return opterr.New("offsite.StreamOptions.Host", "is required (the master whose static pod resources are archived)")
	}
	if o.Config == nil && !o.Force {
		return opterr.New("offsite.StreamOptions.Config", "is required unless StreamOptions.Force is set")
	}
	if err := opterr.Negative("offsite.StreamOptions.Concurrency", o.Concurrency); err != nil {
		return err
	}
	u := o.upload()
	return u.validate("offsite.StreamOptions")
}
