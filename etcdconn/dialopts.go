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
// chopped as finely. Static windows of 8 MiB per stream and 16 MiB per
// connection send a window update for every 2 MiB or so read
// (TestSnapshotStreamFlowControlWindow), and let the member keep
// sending while the client hashes and writes. On hack/bench-offsite.sh
// (1.3 GiB, 2 cores) 2 MiB windows left backup.Snapshot 1.17 to 1.21 x a
// reader with 16 MiB windows that discards the stream, with the member
// spending 5.0 to 5.8 CPU-s serving it; with 16 MiB windows, 1.04 to
// 1.06 x and 3.7 to 4.3 CPU-s. 8 MiB keeps most of that gain for half
// the memory.
//
// Costs: a client whose reader falls behind (offsite.Stream compressing
// and encrypting) holds up to streamWindow bytes of a stream
// (connWindow for all of them) in memory, which is what the window
// bounds; and a static window caps one stream at streamWindow bytes per
// round trip (8 MiB / 10 ms = 800 MiB/s), above what a member serves a
// snapshot at.
const (
	streamWindow = 8 << 20
	connWindow   = 2 * streamWindow
)

// dialOptions are the gRPC options of every connection of the client.
func dialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithInitialWindowSize(streamWindow),
		grpc.WithInitialConnWindowSize(connWindow),
	}
}
