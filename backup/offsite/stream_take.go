package offsite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"

	"gocloud.dev/blob"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/internal/atomicfile"
	"github.com/lifeboat-dev/lifeboat/internal/writeback"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// StreamResult describes a backup Stream stored.
type StreamResult struct {
	// Manifest is the off-site manifest, as written.
	Manifest *Manifest
	// Backup describes the backup as backup.TakePlan would: stamp, files
	// (their Path set only with LocalDir), revision, versions, proxy and
	// warnings; Backup.Manifest is its backup.json content (stored in
	// Manifest.Local, and written to LocalDir with LocalDir).
	Backup *backup.Backup
}

// Stream takes a backup straight to a destination: runbook chapter 1
// ("Backing up etcd data") with the chapter's advice to store it outside
// the cluster, and nothing staged on the master's disk unless
// StreamOptions.LocalDir asks for a local copy too.
//
//  1. the pre-checks of backup.TakePlan (ClusterOperators not Progressing
//     unless Force, the cluster past its first certificate rotation, the
//     cluster version, proxy and encryption settings read; with
//     LocalDir, twice the database size free there);
//  2. static_kuberesources_<stamp>.tar.gz is archived from the host
//     (backup.ArchiveStaticResourcesTo) straight into zstd, age and the
//     storage writer of <prefix>/<id>/<name>.zst.age;
//  3. snapshot_<stamp>.db streams from a healthy voting etcd member
//     (backup.SnapshotTo) into zstd, age and a multipart upload; its
//     etcd sha256 trailer is verified on the uncompressed stream in the
//     same pass, and the object is committed only when it matched;
//  4. each stored object's size is read back from the storage (with
//     ReadBack its whole content and sha256);
//  5. only then the Manifest is written, last, at the resources
//     destination first: a reader that finds no manifest finds no
//     backup. It is the same contract, and the same objects, as Upload's,
//     so List, Fetch and restore read a streamed backup like an uploaded
//     one.
//
// With LocalDir the same bytes also go, in the same pass, to the
// cluster-backup.sh layout there (a tee), committed once their object is
// stored.
//
// Retries: an etcd snapshot stream cannot be re-read, and spooling it to
// disk is what Stream avoids. So a transient storage failure (a 5xx, a
// throttling answer, a reset connection; see RetryOptions) aborts the
// object (nothing becomes visible) and, after a backoff, re-takes its
// source from the start: a new snapshot of etcd (a later revision,
// another blocking transfer on the member) or a new archive. The
// manifest records what the successful attempt stored. Who needs the
// transfer from etcd to happen exactly once should use backup.TakePlan and
// then Upload, which retries from the local files.
//
// When Stream fails, the objects it wrote are deleted (best effort), no
// manifest exists and, with LocalDir, no local file is left behind.
//
// Stream builds StreamPlan (StreamDeps{Etcd: etcd}) and runs it without
// events of its own: the bytes and progress of the calls it makes go to
// ctx's reporter, and a failure is the failed step's error, not a
// *plan.StepError. Use StreamPlan for a dry run or step events.
//
// Errors: lifeboat.ErrInvalidOptions (before any I/O), the *backup.PrecheckError
// of a failed pre-check, a *backup.SnapshotError for the etcd side
// (backup.ErrHashMismatch, backup.ErrTruncated, backup.ErrNoHealthyMember,
// ...), backup's errors for the archive, ErrExists when the destination
// already holds a backup with this stamp, and *ObjectError wrapping the
// storage's error (gcerrors codes) or an integrity sentinel.
func Stream(ctx context.Context, etcd backup.SnapshotClient, opts StreamOptions) (*StreamResult, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if etcd == nil {
		return nil, opterr.Nil("offsite.Stream etcd")
	}
	// One implementation: Stream is StreamPlan run with no events of its
	// own; the bytes (and the progress of the calls it makes) still go to
	// ctx's reporter, as every lifeboat call's do.
	var res StreamResult
	o := opts
	o.Result = &res
	p, r, err := streamPlan(StreamDeps{Etcd: etcd}, o)
	if err != nil {
		return nil, err
	}
	r.quiet = true
	// The plan's Finally rolled back a run that did not publish.
	if err := p.Run(ctx, plan.RunOptions{Report: forwardProgress(ctx)}); err != nil {
		if se, ok := err.(*plan.StepError); ok {
			err = se.Err
		}
		return nil, err
	}
	if opts.Result != nil {
		*opts.Result = res
	}
	return &res, nil
}

// forwardProgress passes a plan's Progress events on to ctx's reporter
// (plan.WithReport, or the plan step running the caller), as the calls
// the plan's steps make would report them outside a plan.
func forwardProgress(ctx context.Context) func(plan.Event) {
	return func(e plan.Event) {
		switch {
		case e.Status != plan.Progress:
		case e.BytesDone == 0 && e.BytesTotal == 0:
			plan.ReportProgress(ctx, e.Message)
		default:
			plan.ReportBytes(ctx, e.Message, e.BytesDone, e.BytesTotal)
		}
	}
}

// streamer stores the objects of one Stream and undoes them on failure.
type streamer struct {
	u       *uploader
	opts    *StreamOptions
	cleanup *objectCleanup
	local   []string // committed local files
}

// rollback deletes the objects and local files of a failed Stream.
func (s *streamer) rollback() {
	s.cleanup.run()
	for _, p := range s.local {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.u.log.Error("removing a local file of a failed backup", "path", p, "err", err)
		}
	}
}

// produceFunc writes one file's plaintext to w and returns its size and
// sha256 as its producer computed them; it may report the expected total
// size through total.
type produceFunc func(w io.Writer, total func(int64)) (size int64, sha256 string, err error)

// object stores name in bucket from produce, retrying transient failures
// with a new produce (a new snapshot, a new archive).
func (s *streamer) object(ctx context.Context, bucket *blob.Bucket, name string, rcp *parsedRecipients, produce produceFunc) (Object, error) {
	key := objectKey(s.u.id, name, s.u.codec())
	s.cleanup.add(bucket, key)
	return retry(ctx, s.opts.Retry, func(err error, wait time.Duration) {
		s.u.log.Warn("streaming failed, taking it again", "key", key, "in", wait, "err", err)
	}, func(attempt int) (Object, error) {
		return s.attempt(ctx, bucket, key, name, rcp, produce, attempt)
	})
}

// attempt is one pass: producer → [local .part] + object writer.
func (s *streamer) attempt(ctx context.Context, bucket *blob.Bucket, key, name string, rcp *parsedRecipients, produce produceFunc, attempt int) (Object, error) {
	concurrency := s.opts.Concurrency
	if concurrency == 0 {
		concurrency = DefaultStreamConcurrency
	}
	ow, err := s.u.newObjectWriter(ctx, bucket, key, name, rcp, writerConfig{
		partSize: s.opts.PartSize, concurrency: concurrency,
		metadata:       map[string]string{metaID: s.u.id, metaName: name},
		producerHashes: true,
	})
	if err != nil {
		return Object{}, err
	}
	defer ow.abort()
	var w io.Writer = ow
	var lf *atomicfile.File
	if s.opts.LocalDir != "" {
		lf, err = atomicfile.Create(filepath.Join(s.opts.LocalDir, name), 0o600)
		if err != nil {
			return Object{}, err
		}
		defer lf.Abort()
		w = io.MultiWriter(writeback.NewWriter(lf.File), ow)
	}
	pw := &progressWriter{w: w, rep: newByteReport(ctx, "streaming "+name, 0, attempt)}
	size, sum, err := produce(pw, func(total int64) { pw.rep.total = total })
	if err != nil {
		return Object{}, err
	}
	// The producer hashed exactly the bytes it wrote to w, in the same
	// pass (backup.SnapshotTo checks its trailer on them): that is the
	// plaintext's sha256, no second hash needed.
	if ow.n != size {
		return Object{}, &ObjectError{Op: "verify", Key: key, Err: fmt.Errorf("%w: %d bytes streamed, the source produced %d", backup.ErrHashMismatch, ow.n, size)}
	}
	ow.obj.SHA256 = sum
	pw.rep.finish(size)
	var readBack func(Object) error
	if s.opts.ReadBack {
		readBack = func(o Object) error { return s.u.readBack(ctx, bucket, o, attempt) }
	}
	obj, err := ow.commit(ctx, bucket, readBack)
	if err != nil {
		return Object{}, err
	}
	if lf != nil {
		if err := lf.Commit(); err != nil {
			return Object{}, fmt.Errorf("offsite: local copy %s: %w", lf.Path(), err)
		}
		s.local = append(s.local, filepath.Join(s.opts.LocalDir, name))
	}
	s.u.log.Info("object stored", "key", key, "bytes", obj.Size, "stored", obj.StoredSize, "attempt", attempt)
	return obj, nil
}

// progressWriter counts what goes through it and reports it.
type progressWriter struct {
	w   io.Writer
	n   int64
	rep *byteReport
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.n += int64(n)
	p.rep.update(p.n)
	return n, err
}
