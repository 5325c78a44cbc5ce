package backup

import (
	"context"
	"io"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"
)

// SnapshotTo streams a snapshot of one healthy etcd member into w, the
// member chosen as Snapshot chooses it, and checks the stream's trailing
// sha256 in the same pass. It is Snapshot without the file: the writer
// sees every byte of the stream, trailer included, as it arrives, so it
// can compress, encrypt and upload the snapshot with nothing staged on
// disk (package backup/offsite does).
//
// The bytes in w are a valid snapshot only when SnapshotTo returns no
// error: a hash mismatch, a missing trailer or a broken stream is found
// at the end, after w has seen the data, so a writer that publishes
// must publish only after SnapshotTo returned nil. opts.Name, BufferSize
// and WrapWriter are ignored (w is the writer); OnStart, Logger and
// StatusTimeout apply, and progress goes to plan.ReportBytes as for
// Snapshot. The result has no Path.
//
// Errors are a *SnapshotError as for Snapshot; a failing w is Op "write".
func SnapshotTo(ctx context.Context, c SnapshotClient, w io.Writer, opts SnapshotOptions) (*SnapshotResult, error) {
	switch {
	case c == nil:
		return nil, opterr.Nil("backup.SnapshotTo c")
	case w == nil:
		return nil, opterr.Nil("backup.SnapshotTo w")
	}
	if err := opts.check(); err != nil {
		return nil, err
	}
	log := logger(opts.Logger)
	st, err := chooseMember(ctx, c, opts.Endpoint, opts.StatusTimeout, log)
	if err != nil {
		return nil, &SnapshotError{Op: "status", Err: err}
	}
	member := st.member
	member.Name = memberName(ctx, c, member.ID, opts.StatusTimeout)
	if opts.OnStart != nil {
		if err := opts.OnStart(member, st.resp.DbSize); err != nil {
			return nil, &SnapshotError{Op: "start", Member: member.String(), Err: err}
		}
	}
	res, oerr := streamTo(ctx, c, member.Endpoint, st.resp.DbSize, w, opts, log.With("member", member.String()))
	if oerr != nil {
		return nil, &SnapshotError{Op: oerr.op, Member: member.String(), Err: oerr.err}
	}
	res.Member = member
	res.Revision = st.resp.Header.GetRevision()
	res.DBSize = st.resp.DbSize
	res.ServerVersion = st.resp.Version
	if res.EtcdVersion == "" {
		res.EtcdVersion = st.resp.Version
	}
	log.Info("snapshot streamed", "bytes", res.Size, "revision", res.Revision,
		"etcdVersion", res.EtcdVersion, "sha256", res.SHA256, "took", res.Duration)
	return res, nil
}
