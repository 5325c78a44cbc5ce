// Package crashtest kills a process running a plan with SIGKILL inside a
// chosen step, for the crash-resume drills of the restore and member
// replacement plans (DESIGN.md §4: "crash-resume is tested by killing the
// process, not only by cancelling a context").
//
// The simulated cluster (clustertest) lives in the test process (the
// parent). The plan runs in a child: the test binary re-executed with
// -test.run=^TestCrashHelper$ and a Spec in the environment. The child
// reaches the cluster as another program would: the API through the
// kubeconfig on disk, etcd through the members' loopback URLs and the
// client certificate's files, each host's files through host.Local rooted
// at the host's directory tree, and the part of a host that is not files
// (crictl ps, systemctl restart kubelet, shutdown) through a small HTTP
// server the parent runs (ServeRuntime), which hands them to the host's
// simulated kubelet, still running in the parent.
//
// The child's Killer watches the plan's events and every operation the
// plan makes through those hosts and clients. Once the chosen step has
// started, the first "work point" of that step kills the process:
//
//   - a progress message of the step;
//   - a host mutation (WriteFile, Move, MkdirAll, RestartKubelet,
//     Shutdown), after it was carried out;
//   - an API mutation (POST, PUT, PATCH, DELETE), after the response;
//   - an etcd mutation (Put, DeleteRange, Txn, MemberAdd, MemberRemove,
//     MemberPromote), after the response;
//   - the write of the plan state that would record the step as finished
//     (restore), before it is written: the step did all its work and the
//     record of it is lost;
//   - for a plan without state (member), the step's Done or Skipped event.
//
// Before it kills, the child writes the point to a marker file, so the
// parent knows the kill landed inside the step. This package is for tests
// only; no library package imports it.
package crashtest
