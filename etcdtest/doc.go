// Package etcdtest holds small fakes of the etcd client interfaces that
// lifeboat's packages consume (member.Cluster and member.HealthChecker,
// backup.SnapshotClient), for unit tests of logic:
//
//   - [Cluster]: an in-memory membership with a leader, per-member health
//     and status, a revision and a snapshot stream; members can be taken
//     down, made learners, removed.
//   - [Wrap] with [Funcs]: a client whose methods are those of another
//     client except the ones a test replaces (controller-runtime's
//     interceptor.Funcs shape), to fail one call and keep the rest.
//
// The methods have the signatures of *clientv3.Client, so a fake goes
// wherever the real client does. Procedure tests do not use these fakes:
// they run real etcd members (clustertest).
//
// # Errors
//
// Status, CheckHealth and CheckLearnerHealth on a member that is down
// return an error wrapping [ErrMemberDown]; on an endpoint no member has,
// one wrapping [ErrUnknownEndpoint]. MemberRemove of an ID no member has
// returns rpctypes.ErrMemberNotFound, as etcd does. Every method returns
// ctx.Err() (wrapped) when ctx has ended.
package etcdtest
