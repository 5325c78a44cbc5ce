package offsite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"gocloud.dev/blob"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/backup/retention"
	"github.com/lifeboat-dev/lifeboat/internal/opterr"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// StreamDeps are what StreamPlan acts through; the plan keeps them and
// does no I/O until it runs. The master (StreamOptions.Host) and the
// cluster's configuration client (StreamOptions.Config) stay in
// StreamOptions, where Stream's callers set them.
type StreamDeps struct {
	// Etcd is the cluster's etcd client the snapshot streams from (a
	// healthy voting member, see StreamOptions.Endpoint); required.
	Etcd backup.SnapshotClient
}

// ErrStreamNotResumable is returned by a StreamPlan step that writes when
// the run did not open the destination itself: a run given a
// plan.RunOptions.State that records precheck or check-destination as
// finished, or a run whose cancel already rolled it back. A stream cannot
// resume (the etcd stream is not re-readable and the stamp is the run's):
// start a new run without a State.
var ErrStreamNotResumable = errors.New("offsite: a stream cannot resume; start a new run")

// StreamPlan is Stream as a plan built without I/O: runbook chapter 1
// ("Backing up etcd data"), stored outside the cluster as the chapter
// advises. Its steps:
//
//	precheck            (read-only) backup.TakePlan's pre-checks: ClusterOperators not
//	                    Progressing unless Force, the certificate rotation, the cluster
//	                    version, proxy and encryption settings read; the stamp is taken here
//	check-destination   (read-only) open the destination (and Resources) bucket, refuse a
//	                    manifest already stored with this stamp (ErrExists)
//	upload-resources    static_kuberesources_<stamp>.tar.gz archived from StreamOptions.Host
//	                    into zstd, age and its object (and LocalDir)
//	upload-snapshot     snapshot_<stamp>.db streamed from etcd into zstd, age and a
//	                    multipart upload (and LocalDir), its sha256 trailer verified; its
//	                    bytes are Progress events ("streaming <name>", plan.ReportBytes),
//	                    the first one's total the database size
//	publish-manifest    backup.json in LocalDir, then the Manifest, last: a reader that
//	                    finds no manifest finds no backup
//
// Each step does what Stream's doc says of it (retries, ReadBack, the
// LocalDir tee). A dry run (plan.RunOptions.DryRun) runs precheck and
// check-destination only: it reads the cluster and the destination,
// writes nothing to either nor to LocalDir, never calls deps.Etcd, and
// reports the three other steps as plan.WouldRun; it fails as a real run
// would on a failed pre-check or an existing backup with this stamp.
//
// Rollback: the plan's Finally (plan.Plan.Finally, run by plan.Plan.Run
// before it returns, whatever ended the run) deletes the objects written
// and the LocalDir files committed (best effort) by a run that did not
// publish its manifest (a step failed or panicked, ctx was cancelled
// during or between steps, a Report panicked), and closes the buckets:
// no manifest exists, so List, Fetch and restore see nothing. After
// publish-manifest succeeded nothing is undone.
//
// opts.Result, when set, receives the StreamResult when publish-manifest
// finishes. The plan keeps the state of its run between steps: run it
// once at a time, and without a plan.RunOptions.State (a step that
// writes fails with ErrStreamNotResumable when precheck and
// check-destination did not run in the same run).
//
// Errors: before building anything, a *lifeboat.OptionsError
// (lifeboat.ErrInvalidOptions) from opts.Validate, or naming
// "offsite.StreamDeps.Etcd" when it is nil. Run returns a
// *plan.StepError (errors.Is plan.ErrNothingChanged when precheck or
// check-destination refused) wrapping the errors Stream documents.
func StreamPlan(deps StreamDeps, opts StreamOptions) (*plan.Plan, error) {
	p, _, err := streamPlan(deps, opts)
	return p, err
}

// streamPlan builds StreamPlan's plan and returns the run state its
// steps share (Stream sets quiet).
func streamPlan(deps StreamDeps, opts StreamOptions) (*plan.Plan, *streamRun, error) {
	if err := opts.Validate(); err != nil {
		return nil, nil, err
	}
	if deps.Etcd == nil {
		return nil, nil, opterr.Nil("offsite.StreamDeps.Etcd")
	}
	uo := opts.upload()
	snapRcp, resRcp, err := uo.recipients("offsite.StreamOptions")
	if err != nil { // Validate parsed them already
		return nil, nil, err
	}
	r := &streamRun{etcd: deps.Etcd, opts: opts, uo: uo, snapRcp: snapRcp, resRcp: resRcp, log: logger(opts.Logger)}
	dest := opts.Destination.String()
	return &plan.Plan{Name: "offsite-stream", Finally: r.finally, Steps: []plan.Step{
		{ID: "precheck", ReadOnly: true, Run: r.precheck,
			Description: "check that no control-plane operator is progressing and the certificate rotation; read the cluster version, proxy and encryption settings"},
		{ID: "check-destination", ReadOnly: true, Run: r.checkDestination,
			Description: "open " + dest + " and check that it holds no backup with this stamp"},
		{ID: "upload-resources", Run: r.writing(r.uploadResources),
			Description: "archive the static pod resources of " + opts.Host.Name() + " into an encrypted object"},
		{ID: "upload-snapshot", Run: r.writing(r.uploadSnapshot),
			Description: "stream an etcd snapshot into an encrypted object, its sha256 verified as it streams"},
		{ID: "publish-manifest", Run: r.writing(r.publishManifest),
			Description: "write the manifest, last, which makes the backup visible"},
	}}, r, nil
}

// streamRun is the state of one run of a StreamPlan across its steps.
type streamRun struct {
	etcd            backup.SnapshotClient
	opts            StreamOptions
	uo              UploadOptions
	snapRcp, resRcp *parsedRecipients
	log             *slog.Logger
	// quiet: no progress messages of the plan's own (Stream's events are
	// those of the calls it makes only).
	quiet bool

	// precheck
	t    time.Time
	b    *backup.Backup
	info *backup.ClusterInfo
	// check-destination (real run)
	primary, resBucket *blob.Bucket
	resDest            string
	closeBuckets       func()
	s                  *streamer // nil until the destination is open
	// upload steps
	rr             *backup.ResourcesResult
	sr             *backup.SnapshotResult
	resObj, snpObj Object
	published      bool
}

func (r *streamRun) progress(progress func(string), msg string) {
	if !r.quiet {
		progress(msg)
	}
}

func (r *streamRun) warn(msg string, args ...any) {
	r.b.Warnings = append(r.b.Warnings, fmt.Sprintf(msg, args...))
	r.log.Warn(fmt.Sprintf(msg, args...))
}

func (r *streamRun) precheck(ctx context.Context, progress func(string)) error {
	// A second run of the plan starts afresh (Finally ended the first).
	r.s, r.rr, r.sr, r.published = nil, nil, nil, false
	r.t = now(r.opts.Now)
	r.b = &backup.Backup{Dir: r.opts.LocalDir, Timestamp: backup.Timestamp(r.t), PossiblyDirty: r.opts.Force}
	r.progress(progress, "checking the control-plane operators, the certificate rotation and the cluster settings")
	info, err := streamPrechecks(ctx, &r.opts, r.t, r.b, r.warn)
	r.info = info
	return err
}

func (r *streamRun) checkDestination(ctx context.Context, progress func(string)) error {
	if r.b == nil {
		return ErrStreamNotResumable
	}
	id := idOf(r.b)
	r.progress(progress, "checking "+r.opts.Destination.String()+" for a backup stamped "+id)
	primary, resBucket, resDest, closeBuckets, err := openBuckets(ctx, &r.opts.Destination, r.opts.Resources)
	if err != nil {
		return err
	}
	if _, err := readManifest(ctx, primary, id); err == nil {
		closeBuckets()
		return &ObjectError{Op: "upload", Key: manifestKey(id), Err: fmt.Errorf("%w: the destination already holds a backup stamped %s", ErrExists, id)}
	} else if !errors.Is(err, retention.ErrNotFound) {
		closeBuckets()
		return err
	}
	if plan.IsDryRun(ctx) {
		closeBuckets()
		return nil
	}
	level := r.opts.ZstdLevel
	if level == 0 {
		level = DefaultZstdLevel
	}
	r.primary, r.resBucket, r.resDest, r.closeBuckets = primary, resBucket, resDest, closeBuckets
	r.s = &streamer{
		u:       &uploader{opts: &r.uo, log: r.log, id: id, level: level},
		opts:    &r.opts,
		cleanup: &objectCleanup{ctx: ctx, log: r.log},
	}
	return nil
}

// writing wraps a step that writes: it refuses a run that did not open
// the destination in its own check-destination (a State that marked the
// checks finished, a second plan run's steps out of order).
func (r *streamRun) writing(step func(ctx context.Context, progress func(string)) error) func(context.Context, func(string)) error {
	return func(ctx context.Context, progress func(string)) error {
		if r.s == nil {
			return ErrStreamNotResumable
		}
		return step(ctx, progress)
	}
}

// finally ends a run that opened the destination (the plan's Finally):
// a run that published keeps its backup; any other has its objects and
// local files removed. The buckets are closed either way.
func (r *streamRun) finally(context.Context, error) error {
	if r.s == nil {
		return nil
	}
	if !r.published {
		r.s.rollback()
	}
	r.closeBuckets()
	r.s = nil
	return nil
}

func (r *streamRun) uploadResources(ctx context.Context, progress func(string)) error {
	if r.opts.LocalDir != "" {
		if err := os.MkdirAll(r.opts.LocalDir, 0o700); err != nil {
			return err
		}
	}
	name := backup.ResourcesFileName(r.b.Timestamp, r.opts.Force)
	r.progress(progress, "archiving the static pod resources of "+r.opts.Host.Name()+" into "+name)
	var rr *backup.ResourcesResult
	obj, err := r.s.object(ctx, r.resBucket, name, r.resRcp, func(w io.Writer, _ func(int64)) (int64, string, error) {
		res, err := backup.ArchiveStaticResourcesTo(ctx, r.opts.Host, w, backup.ResourcesOptions{ConfigDir: r.opts.ConfigDir, Logger: r.log})
		if err != nil {
			return 0, "", fmt.Errorf("archiving static pod resources: %w", err)
		}
		rr = res
		return res.Size, res.SHA256, nil
	})
	if err != nil {
		return err
	}
	for _, c := range rr.Fallbacks {
		r.warn("%s: manifest missing, archived the highest revision on disk instead of the live one", c)
	}
	obj.Role, obj.Destination = RoleResources, r.resDest
	r.rr, r.resObj = rr, obj
	return nil
}

func (r *streamRun) uploadSnapshot(ctx context.Context, progress func(string)) error {
	if r.rr == nil {
		return ErrStreamNotResumable
	}
	opts := &r.opts
	name := backup.SnapshotFileName(r.b.Timestamp, opts.Force)
	var sr *backup.SnapshotResult
	obj, err := r.s.object(ctx, r.primary, name, r.snapRcp, func(w io.Writer, total func(int64)) (int64, string, error) {
		// backup.SnapshotTo reports the bytes it writes to w ("saving
		// snapshot"): this stream reports them itself, once, named
		// after the object, so SnapshotTo's go nowhere.
		quiet := plan.WithReport(ctx, func(plan.Event) {})
		res, err := backup.SnapshotTo(quiet, r.etcd, w, backup.SnapshotOptions{
			Endpoint: opts.Endpoint,
			Logger:   r.log,
			OnStart: func(from backup.Member, dbSize int64) error {
				total(dbSize)
				r.log.Info("streaming snapshot", "member", from.String(), "dbSize", dbSize, "destination", opts.Destination.String())
				r.progress(progress, "streaming the snapshot from "+from.String())
				if opts.LocalDir != "" {
					return backup.CheckFreeSpace(opts.LocalDir, dbSize, opts.FreeSpace)
				}
				return nil
			},
		})
		if err != nil {
			return 0, "", err
		}
		sr = res
		return res.Size, res.SHA256, nil
	})
	if err != nil {
		return err
	}
	obj.Role, obj.Destination = RoleSnapshot, destPrimary
	r.sr, r.snpObj = sr, obj
	return nil
}

func (r *streamRun) publishManifest(ctx context.Context, progress func(string)) error {
	if r.rr == nil || r.sr == nil {
		return ErrStreamNotResumable
	}
	opts, b, sr := &r.opts, r.b, r.sr
	stamp, id := b.Timestamp, r.s.u.id
	local := streamLocalManifest(b, stamp, r.t, opts.Force, r.info, sr, r.rr, r.snpObj, r.resObj)
	if local.EncryptionEnabled {
		r.warn("etcd encryption (%s) is on: %s holds the keys; store it apart from the snapshot", local.Encryption, r.resObj.Name)
	}
	b.Manifest = local
	if opts.LocalDir != "" {
		if err := backup.WriteManifest(opts.LocalDir, local); err != nil {
			// The two files are the backup; backup.json is an addition.
			r.warn("writing %s: %v", backup.ManifestFileName, err)
			b.Manifest = nil
		} else {
			r.s.local = append(r.s.local, filepath.Join(opts.LocalDir, backup.ManifestFileName))
		}
	}
	m := &Manifest{
		Format:            manifestFormat,
		Kind:              manifestKind,
		ID:                id,
		TakenAt:           r.t.UTC(),
		ClusterVersion:    b.ClusterVersion,
		EtcdVersion:       sr.EtcdVersion,
		EtcdServerVersion: sr.ServerVersion,
		Revision:          sr.Revision,
		PossiblyDirty:     opts.Force,
		EncryptionEnabled: local.EncryptionEnabled,
		LifeboatVersion:   backup.Version(),
		Objects:           []Object{r.resObj, r.snpObj},
		Local:             local,
		ReadBack:          opts.ReadBack,
		Verified:          true,
		UploadedAt:        now(opts.Now).UTC(),
	}
	r.progress(progress, "writing the manifest of "+id)
	if err := publish(ctx, opts.Retry, r.log, r.primary, r.resBucket, m); err != nil {
		return err
	}
	size, stored := m.Size()
	r.log.Info("backup streamed", "id", id, "destination", opts.Destination.String(), "bytes", size, "stored", stored)
	r.published = true
	if opts.Result != nil {
		*opts.Result = StreamResult{Manifest: m, Backup: b}
	}
	return nil
}
