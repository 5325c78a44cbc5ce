package etcdconn

import "google.golang.org/grpc"

// Flow-control windows of every connection a client from New or FromEnv
// opens, including the per-member connections backup.Snapshot dials
// through (*clientv3.Client).Dial.
//
// gRPC's default is a 64 KiB window grown by a bandwidth-delay
// estimator, which on the low-latency links between a master and etcd
// (loopback, a data centre) barely grows it: a snapshot stream (32 KiB
// messages, the whole database) then costs a WINDOW_UPDATE frame, a TLS
// record and a write syscall on the client, and a frame to handle on the
// member, for every 70 KiB or so received, and the member's sends are
// chopped as finely. Static windows of 2 MiB per stream and 4 MiB per
// connection send three to six times fewer updates
// (TestSnapshotStreamFlowControlWindow); on hack/bench-offsite.sh
// (318 MiB, a loaded machine) offsite.Stream's client and member used
// about 4% less CPU together, and the stream's peak RSS did not grow.
//
// Costs: a client whose reader falls behind holds up to streamWindow
// bytes of a stream (connWindow for all of them) in memory, which is
// what the window bounds; and a static window caps one stream at
// streamWindow bytes per round trip (2 MiB / 10 ms = 200 MiB/s), well
// above what a member serves a snapshot at.
const (
	streamWindow = 2 << 20
	connWindow   = 2 * streamWindow
)

// dialOptions are the gRPC options of every connection of the client.
func dialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithInitialWindowSize(streamWindow),
		grpc.WithInitialConnWindowSize(connWindow),
	}
}
