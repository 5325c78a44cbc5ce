package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"

	"github.com/lifeboat-dev/lifeboat/internal/atomicfile"
	"github.com/lifeboat-dev/lifeboat/internal/opterr"
	"github.com/lifeboat-dev/lifeboat/internal/safego"
	"github.com/lifeboat-dev/lifeboat/internal/writeback"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// SnapshotClient is the part of an etcd client that Snapshot uses.
// *clientv3.Client satisfies it.
type SnapshotClient interface {
	// Endpoints lists the client URLs the client knows.
	Endpoints() []string
	// Status asks the member at endpoint for its status (leader, revision,
	// database size, version, errors). It stops when ctx is cancelled.
	Status(ctx context.Context, endpoint string) (*clientv3.StatusResponse, error)
	// MemberList lists the cluster's members (used to name the member the
	// snapshot came from).
	MemberList(ctx context.Context, opts ...clientv3.OpOption) (*clientv3.MemberListResponse, error)
	// SnapshotWithVersion streams a point-in-time snapshot of the member's
	// database followed by its sha256. Cancelling ctx breaks the stream.
	SnapshotWithVersion(ctx context.Context) (*clientv3.SnapshotResponse, error)
}

var _ SnapshotClient = (*clientv3.Client)(nil)

// SnapshotOptions configure Snapshot. The zero value streams from a healthy
// follower (or the leader when it is the only healthy member) into
// "snapshot_<YYYY-MM-DD_HHMMSS>.db" stamped with the local time now.
type SnapshotOptions struct {
	// Name is the file name inside dir. Empty means
	// "snapshot_<timestamp>.db" with the time from Now.
	Name string
	// Endpoint is the client URL of the member to stream from; it must be
	// a healthy voting member. Empty means the first of the client's
	// endpoints to answer as a healthy voting follower, else the healthy
	// leader (a snapshot blocks the member serving it; followers spare the
	// leader). Learners (masters the etcd operator is still adding) are
	// never chosen: their data may lag behind the cluster's.
	Endpoint string
	// OnStart, when set, is called once the member is chosen, before the
	// transfer, with that member and its database size in bytes (what
	// the stream will carry, less the 32-byte trailer): a progress total,
	// or a last check (free space). An error it returns stops the
	// snapshot before the transfer: a *SnapshotError with Op "start"
	// wrapping it.
	OnStart func(from Member, dbSize int64) error
	// Logger receives progress and decisions; nil discards them.
	Logger *slog.Logger
	// Now is the clock for the default file name; nil means time.Now.
	Now func() time.Time
	// BufferSize is the size of each of the two copy buffers (one
	// receiving while the other is hashed and written) used for clients
	// other than *clientv3.Client, whose gRPC messages (32 KiB) are hashed
	// and written as they arrive, without a copy. 0 means 64 KiB, which
	// keeps both buffers in the CPU's cache (larger ones measured slower).
	// Memory use does not grow with the database size.
	BufferSize int
	// WrapWriter, when set, wraps the destination file (for rate limiting,
	// quotas or tests simulating a full disk). Data written to the returned
	// writer must reach the file for the snapshot to be valid.
	WrapWriter func(w io.Writer) io.Writer
	// StatusTimeout bounds each member status request; 0 means 5 seconds.
	StatusTimeout time.Duration
}

// Member identifies an etcd member.
type Member struct {
	ID       uint64 `json:"id,string"`
	Name     string `json:"name,omitempty"`
	Endpoint string `json:"endpoint"`
}

// String is the member's name, or its endpoint when the name is unknown.
func (m Member) String() string {
	if m.Name != "" {
		return m.Name
	}
	return m.Endpoint
}

// SnapshotResult describes a saved snapshot.
type SnapshotResult struct {
	// Path of the snapshot file.
	Path string
	// Size in bytes, including the 32-byte sha256 trailer.
	Size int64
	// Revision is the member's revision when the snapshot began (from a
	// status request just before it); the snapshot holds at least this
	// revision.
	Revision int64
	// EtcdVersion is the version reported with the snapshot (etcd >= 3.6
	// sends its storage version, e.g. "3.7.0"), else the member's server
	// version.
	EtcdVersion string
	// ServerVersion is the member's etcd server version (e.g. "3.7.3").
	ServerVersion string
	// DBSize is the member's database size reported just before the
	// snapshot.
	DBSize int64
	// Member the snapshot was streamed from.
	Member Member
	// SHA256 is the hex sha256 of the whole file (as sha256sum prints it).
	SHA256 string
	// DBSHA256 is the hex sha256 of the database part, which equals the
	// trailer etcd appended.
	DBSHA256 string
	// Duration of the transfer.
	Duration time.Duration
}

const defaultBufferSize = 64 << 10

// Snapshot saves a snapshot of one healthy etcd member to dir (created if
// missing) and returns what it saved.
//
// The stream goes to "<name>.part"; its trailing sha256 is checked while it
// streams (no second read), then the file is synced, made mode 0600 and
// renamed to its name. On any failure (hash mismatch, missing trailer,
// truncated or broken stream, cancelled ctx, member gone, disk full) no
// file is left behind and the error is a *SnapshotError wrapping the cause
// ([ErrHashMismatch], [ErrNoHash], [ErrTruncated], [ErrShortWrite],
// [ErrNoHealthyMember], context.Canceled, ...). c's Status and its
// snapshot stream run on goroutines Snapshot starts: a panic there is
// returned the same way, as a *lifeboat.PanicError (lifeboat.ErrPanicked)
// in the place of the error they would have returned.
//
// Its progress goes to plan.ReportBytes after each write ("saving
// snapshot", bytes written of the member's database size, and written of
// written once the trailer verified; plan passes on about one per MiB):
// Progress events of the plan step calling it, or of plan.WithReport's
// report outside a plan.
//
// When c is a *clientv3.Client, the stream runs over a connection of its
// own to the chosen member, so it cannot be balanced to another one (with
// the client's dial options: a client from etcdconn receives with large
// flow-control windows, see its package documentation); other
// SnapshotClients are used through SnapshotWithVersion as they are (give
// them a single endpoint).
func Snapshot(ctx context.Context, c SnapshotClient, dir string, opts SnapshotOptions) (*SnapshotResult, error) {
	switch {
	case c == nil:
		return nil, opterr.Nil("backup.Snapshot c")
	case dir == "":
		return nil, opterr.Nil("backup.Snapshot dir")
	}
	if err := opts.check(); err != nil {
		return nil, err
	}
	log := logger(opts.Logger)
	name := opts.Name
	if name == "" {
		name = SnapshotFileName(Timestamp(now(opts.Now)), false)
	}
	path := filepath.Join(dir, name)

	st, err := chooseMember(ctx, c, opts.Endpoint, opts.StatusTimeout, log)
	if err != nil {
		return nil, &SnapshotError{Op: "status", Path: path, Err: err}
	}
	member := st.member
	member.Name = memberName(ctx, c, member.ID, opts.StatusTimeout)

	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, &SnapshotError{Op: "open", Member: member.String(), Path: path, Err: err}
	}
	if opts.OnStart != nil {
		if err := opts.OnStart(member, st.resp.DbSize); err != nil {
			return nil, &SnapshotError{Op: "start", Member: member.String(), Path: path, Err: err}
		}
	}
	res, oerr := streamSnapshot(ctx, c, member.Endpoint, st.resp.DbSize, path, opts, log.With("member", member.String()))
	if oerr != nil {
		return nil, &SnapshotError{Op: oerr.op, Member: member.String(), Path: path, Err: oerr.err}
	}
	res.Member = member
	res.Revision = st.resp.Header.GetRevision()
	res.DBSize = st.resp.DbSize
	res.ServerVersion = st.resp.Version
	if res.EtcdVersion == "" {
		res.EtcdVersion = st.resp.Version
	}
	log.Info("snapshot saved", "path", path, "bytes", res.Size, "revision", res.Revision,
		"etcdVersion", res.EtcdVersion, "sha256", res.SHA256, "took", res.Duration)
	return res, nil
}

type memberStatus struct {
	member Member
	resp   *clientv3.StatusResponse
}

// chooseMember asks the candidate endpoints for their status and picks
// the wanted one (which must be a healthy voter) or the first healthy
// voting follower to answer, else the healthy leader. A learner answers
// Status (and would serve a snapshot), but it is not part of the quorum
// and may not have caught up: it is skipped, as etcd's client skips
// learners when it syncs its endpoints.
func chooseMember(ctx context.Context, c SnapshotClient, want string, timeout time.Duration, log *slog.Logger) (*memberStatus, error) {
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	eps := c.Endpoints()
	if want != "" {
		eps = []string{want}
	}
	if len(eps) == 0 {
		return nil, fmt.Errorf("%w: the client has no endpoints", ErrNoHealthyMember)
	}
	// Ask every endpoint at once and take the first healthy follower to
	// answer: a dead member answers only when the timeout expires.
	type answer struct {
		ep   string
		resp *clientv3.StatusResponse
		err  error
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	answers := make(chan answer, len(eps))
	for _, ep := range eps {
		go func() {
			// c is the caller's: its panic is this endpoint's error.
			resp, err := safego.CallValue("backup.SnapshotClient.Status of "+ep, func() (*clientv3.StatusResponse, error) { return c.Status(actx, ep) })
			if err == nil && len(resp.Errors) > 0 {
				err = fmt.Errorf("member reports errors: %v", resp.Errors)
			}
			answers <- answer{ep, resp, err}
		}()
	}
	var leader *memberStatus
	var errs []error
	for range eps {
		a := <-answers
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if a.err == nil && a.resp.IsLearner {
			a.err = errors.New("member is a learner: its data may lag behind the cluster's; snapshot a voting member")
		}
		if a.err != nil {
			log.Warn("etcd member not usable for a snapshot", "endpoint", a.ep, "err", a.err)
			errs = append(errs, fmt.Errorf("%s: %w", a.ep, a.err))
			continue
		}
		ms := &memberStatus{member: Member{ID: a.resp.Header.GetMemberId(), Endpoint: a.ep}, resp: a.resp}
		if want != "" || a.resp.Leader != a.resp.Header.GetMemberId() {
			return ms, nil
		}
		leader = ms
	}
	if leader != nil {
		return leader, nil
	}
	return nil, fmt.Errorf("%w: %w", ErrNoHealthyMember, errors.Join(errs...))
}

// memberName looks the member's name up; "" when it cannot.
func memberName(ctx context.Context, c SnapshotClient, id uint64, timeout time.Duration) string {
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := c.MemberList(lctx)
	if err != nil {
		return ""
	}
	for _, m := range resp.Members {
		if m.ID == id {
			return m.Name
		}
	}
	return ""
}

type opError struct {
	op  string
	err error
}

// snapshotStream is an open snapshot transfer: either a gRPC stream whose
// messages are used as they arrive (no copy), or a reader.
type snapshotStream struct {
	grpc    pb.Maintenance_SnapshotClient
	codec   *snapshotCodec
	first   []byte // the first message's data (grpc)
	reader  io.Reader
	version string
	close   func()
}

// openStream starts the snapshot stream from endpoint. A *clientv3.Client
// gets a connection of its own to that member (so the stream cannot land
// on another one) and its messages are read straight off the gRPC stream;
// other clients stream through SnapshotWithVersion.
func openStream(ctx context.Context, c SnapshotClient, endpoint string) (*snapshotStream, error) {
	if cc, ok := c.(*clientv3.Client); ok {
		conn, err := cc.Dial(endpoint)
		if err != nil {
			return nil, err
		}
		codec := &snapshotCodec{free: make(chan []byte, receiveDepth+2)}
		ss, err := pb.NewMaintenanceClient(conn).Snapshot(ctx, &pb.SnapshotRequest{}, grpc.ForceCodecV2(codec))
		if err == nil {
			var first *pb.SnapshotResponse
			if first, err = ss.Recv(); err == nil {
				return &snapshotStream{
					grpc:    ss,
					codec:   codec,
					first:   first.Blob,
					version: first.Version,
					close:   func() { conn.Close() },
				}, nil
			}
		}
		conn.Close()
		return nil, err
	}
	resp, err := c.SnapshotWithVersion(ctx)
	if err != nil {
		return nil, err
	}
	return &snapshotStream{reader: resp.Snapshot, version: resp.Version, close: func() { resp.Snapshot.Close() }}, nil
}

func streamSnapshot(ctx context.Context, c SnapshotClient, endpoint string, total int64, path string, opts SnapshotOptions, log *slog.Logger) (*SnapshotResult, *opError) {
	f, err := atomicfile.Create(path, 0o600)
	if err != nil {
		return nil, &opError{"open", err}
	}
	defer f.Abort()
	var w io.Writer = writeback.NewWriter(f.File)
	if opts.WrapWriter != nil {
		w = opts.WrapWriter(w)
	}
	res, oerr := streamTo(ctx, c, endpoint, total, w, opts, log.With("path", path))
	if oerr != nil {
		return nil, oerr
	}
	if err := f.Commit(); err != nil {
		return nil, &opError{"commit", err}
	}
	res.Path = path
	return res, nil
}

// streamTo streams the member's snapshot into w, checking its sha256
// trailer in the same pass; the result has no Path.
// Each write is reported with plan.ReportBytes (which passes on about
// one per MiB): written of total bytes, where total is the member's
// database size when known; the verified end is reported as written of
// written bytes.
func streamTo(ctx context.Context, c SnapshotClient, endpoint string, total int64, w io.Writer, opts SnapshotOptions, log *slog.Logger) (*SnapshotResult, *opError) {
	start := time.Now()
	// The stream gets its own cancellable context so that a failure on our
	// side (disk full) stops the member from sending the rest.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := openStream(sctx, c, endpoint)
	if err != nil {
		return nil, &opError{"open", ctxErr(ctx, err)}
	}
	log.Info("streaming snapshot", "endpoint", endpoint, "etcdVersion", stream.version)

	h := newTrailerHasher()
	size := opts.BufferSize
	if size <= 0 {
		size = defaultBufferSize
	}
	// A receiving goroutine hands data over while this one hashes and
	// writes it, so receiving overlaps hashing and disk writes. Memory
	// stays at a few messages or two buffers.
	chunks := receive(sctx, stream, size)
	defer func() {
		cancel()
		stream.close()
		for range chunks.full { // let the receiver finish
		}
	}()
	var written int64
	for c := range chunks.full {
		n, rerr := len(c.data), c.err
		if n > 0 {
			h.Write(c.data)
			m, werr := w.Write(c.data)
			written += int64(m)
			if werr == nil && m < n {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				if errors.Is(werr, io.ErrShortWrite) {
					werr = fmt.Errorf("%w after %d bytes: %w", ErrShortWrite, written, werr)
				}
				return nil, &opError{"write", werr}
			}
			plan.ReportBytes(ctx, "saving snapshot", written, total)
		}
		if c.buf != nil {
			chunks.recycle(c.buf)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			if ctx.Err() != nil {
				return nil, &opError{"receive", ctx.Err()}
			}
			return nil, &opError{"receive", fmt.Errorf("%w: stream broke after %d bytes: %w", ErrTruncated, h.Size(), rerr)}
		}
	}
	// A cancelled context may surface as a clean end of stream from the
	// pipe; never accept a snapshot once ctx is done.
	if err := ctx.Err(); err != nil {
		return nil, &opError{"receive", err}
	}
	tr, err := h.Finish()
	if err != nil {
		return nil, &opError{"verify", err}
	}
	plan.ReportBytes(ctx, "saving snapshot", written, written)
	return &SnapshotResult{
		Size:        tr.Size,
		EtcdVersion: stream.version,
		SHA256:      tr.FileSHA,
		DBSHA256:    tr.DBSHA,
		Duration:    time.Since(start),
	}, nil
}

// chunk is received data; err is the receive's error (io.EOF or
// io.ErrUnexpectedEOF at the end of the stream). buf, when set, is the
// buffer data lives in, to give back on the receiver's free channel.
type chunk struct {
	data []byte
	buf  []byte
	err  error
}

type receiver struct {
	free chan []byte
	full chan chunk
}

// recycle gives a buffer back without ever blocking.
func (rc *receiver) recycle(b []byte) {
	select {
	case rc.free <- b:
	default:
	}
}

// receiveDepth is how many received chunks may wait for the writer.
const receiveDepth = 4

// receive runs the receiving side of a transfer in a goroutine of its
// own. A gRPC stream's blobs are handed over as the codec decoded them,
// and their buffers go back to the codec; a reader is read into two
// rotating buffers of size bytes. The consumer takes chunks from full (and gives buffers back on
// free); full is closed after the chunk carrying an error, or when ctx is
// done while waiting for a free buffer.
func receive(ctx context.Context, s *snapshotStream, size int) *receiver {
	if s.grpc != nil {
		rc := &receiver{free: s.codec.free, full: make(chan chunk, receiveDepth)}
		go func() {
			defer close(rc.full)
			rc.full <- chunk{data: s.first, buf: s.first}
			for {
				resp, err := safego.CallValue("receiving the snapshot stream", func() (*pb.SnapshotResponse, error) { return s.grpc.Recv() })
				var data []byte
				if err == nil {
					data = resp.Blob
				}
				select {
				case rc.full <- chunk{data: data, buf: data, err: err}:
				case <-ctx.Done():
					return
				}
				if err != nil {
					return
				}
			}
		}()
		return rc
	}
	rc := &receiver{free: make(chan []byte, 2), full: make(chan chunk, receiveDepth)}
	rc.free <- make([]byte, size)
	rc.free <- make([]byte, size)
	go func() {
		defer close(rc.full)
		for {
			var buf []byte
			select {
			case buf = <-rc.free:
			case <-ctx.Done():
				return
			}
			// The reader is the caller's client's: a panic ends the
			// transfer with it as the chunk's error.
			n, err := safego.CallValue("reading the snapshot stream", func() (int, error) { return io.ReadFull(s.reader, buf) })
			// Never blocks: full holds more chunks than there are buffers.
			rc.full <- chunk{data: buf[:n], buf: buf, err: err}
			if err != nil {
				return
			}
		}
	}()
	return rc
}

// ctxErr prefers the context's error when ctx is done.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

func now(f func() time.Time) time.Time {
	if f == nil {
		return time.Now()
	}
	return f()
}
