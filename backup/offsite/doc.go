// Package offsite stores lifeboat backups outside the cluster, as the
// runbook's chapter 1 advises ("store them in a secure location, ideally
// outside the OpenShift Container Platform environment"), and brings them
// back for a restore.
//
// A backup is a local directory in the cluster-backup.sh layout, written
// by backup.TakePlan and checked by backup.Verify. Upload streams each of its
// files once through zstd (github.com/klauspost/compress/zstd) and then
// age (filippo.io/age, to X25519 or SSH recipients) into a
// gocloud.dev/blob bucket:
//
//	<prefix>/<id>/snapshot_<stamp>.db.zst.age
//	<prefix>/<id>/static_kuberesources_<stamp>.tar.gz.zst.age
//	<prefix>/<id>/lifeboat-offsite.json      (Manifest, written last)
//
// where <id> is the backup's stamp. The static resources archive holds the
// etcd encryption keys; UploadOptions.Resources sends it to other
// recipients and, if wanted, another bucket. The manifest is never
// encrypted: List reads it without keys (for retention and freshness
// checks), and it records names, codec, plaintext and stored sizes and
// sha256s, the recipients' fingerprints and the cluster and etcd versions.
//
// Stream takes the backup straight to the bucket, with nothing staged on
// the master's disk: backup.TakePlan's pre-checks, then the static resources
// archive (backup.ArchiveStaticResourcesTo) and the etcd snapshot stream
// (backup.SnapshotTo, its sha256 trailer verified on the uncompressed
// bytes as they pass) each go through zstd and age into a multipart
// upload in one pass; the objects and the manifest are those Upload
// writes, and the manifest is still written last. StreamOptions.LocalDir
// tees the same bytes into the cluster-backup.sh layout on disk. A stream
// cannot be re-read: a transient storage failure re-takes its source (a
// new snapshot) after a backoff.
// StreamPlan is the same procedure as a plan.Plan (precheck,
// check-destination, upload-resources, upload-snapshot, publish-manifest)
// with a dry run that checks the cluster and the destination only.
//
// Fetch reverses the pipeline into a local directory in the
// cluster-backup.sh layout and refuses, before writing anything there, a
// wrong identity, an altered, truncated or swapped object and a damaged
// manifest. Verify is backup.Verify for a stored backup (a fetch into a
// temporary directory). RestoreSource hands a stored backup to the
// restore (restore.Options.Source), which fetches it before it touches
// any host.
//
// Drivers: s3:// and file:// are linked by offsite itself; azblob:// and
// gs:// need the program's own blank import of gocloud.dev/blob/azureblob
// or gocloud.dev/blob/gcsblob (see Destination). Validation names the
// missing import before anything is touched.
//
// Scrub re-reads every backup at a destination on a schedule and reports
// each as ok, corrupt or missing before a restore needs it: without keys
// it checks every stored byte against the manifest's stored size and
// sha256, with the identities it also decrypts and checks what Fetch
// checks; freshness.Recorder.RecordScrub exports the result for alerts.
//
// Progress: Upload, Stream, Fetch, Verify and Scrub report the bytes of
// each object through their context with plan.ReportBytes, as every
// lifeboat call does (Progress events of the plan step calling them, or
// of plan.WithReport's report outside a plan): one transfer per object,
// named in the event's message ("uploading <name>", "reading back
// <name>", "streaming <name>", "downloading <name>", "scrubbing <key>",
// with " (attempt N)" on a retry), at most one event per MiB, the last
// one with BytesDone == BytesTotal. Stream reports the snapshot once:
// backup.SnapshotTo's own reports are not passed on.
//
// Errors: lifeboat.ErrInvalidOptions (before any I/O, a
// *lifeboat.OptionsError naming the field, a destination's under the
// option holding it, e.g. "offsite.UploadOptions.Destination.URL" for
// a URL whose driver would not accept a query parameter);
// offsite's own
// sentinels ErrWrongIdentity, ErrMismatch, ErrExists and
// ErrSourceChanged; and, for the failures an off-site backup shares with
// a local one, the backup family's: backup.ErrHashMismatch (an altered
// object), backup.ErrTruncated, backup.ErrBadManifest,
// backup.ErrMissingFile (an object gone, Scrub's ScrubMissing),
// retention.ErrNotFound (no backup with that ID at the destination). They
// are carried by *ObjectError (which names the object key, never a URL
// with its query) or returned from Validate; a local backup that fails
// verification is refused with backup's *backup.VerifyError. Storage
// errors keep their gocloud.dev/gcerrors code.
//
// Heavy dependencies (gocloud.dev and the cloud SDKs) live here only;
// package backup does not import them.
package offsite
