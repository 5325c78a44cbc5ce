// Package hosttest gives unit tests of code that takes a [host.Host] two
// seams, so that no test writes its own host:
//
//   - [Dir]: a host whose files live beneath a directory (a test's
//     t.TempDir() standing for a master's "/"), with the OpenShift static
//     pods run by a small simulated [Kubelet] and commands carried out by
//     a function the test supplies, or refused ([ErrCommandRefused]). No
//     command ever runs on the machine running the test unless the test
//     says so, unlike a [host.Local] on a tree, whose Run, Containers,
//     RestartKubelet and Shutdown run the real programs.
//   - [Wrap] with [Funcs]: a host whose operations are those of another
//     host, except for the ones a test replaces, the way
//     controller-runtime's interceptor.Funcs wraps a client. One test
//     fails a single Move and keeps every other operation real; another
//     records Shutdown calls on a host that has nothing else
//     ([Unimplemented]).
//
// Both are for tests of logic. A procedure's end-to-end tests run on
// clustertest's simulated hosts, whose kubelet runs real etcd members.
//
// # Errors
//
// A Dir's file operations are host.Local's (fs.ErrNotExist, fs.ErrExist,
// host.ErrInvalidPath, ctx.Err(), each naming the host and path). Run
// without [DirOptions.Run] returns an error wrapping [ErrCommandRefused];
// every operation of [Unimplemented] returns one wrapping
// [ErrUnimplemented]. Both name the host and the operation.
package hosttest
