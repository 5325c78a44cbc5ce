// Package etcdconn builds etcd clients for the runbook's procedures.
//
// Every step of the OpenShift "Backup and restore" runbook that talks to etcd
// does it with etcdctl in a shell that already knows how to reach the
// cluster. In sections 2.4.1 and 2.4.2 (replacing an unhealthy member) the
// administrator runs
//
//	$ oc rsh -n openshift-etcd etcd-<healthy master>
//	sh-4.2# etcdctl member list -w table
//	sh-4.2# etcdctl member remove <id>
//
// and in section 2.4.1's verification "etcdctl endpoint health --cluster".
// The shell `oc rsh` opens is in the etcdctl container of a healthy
// master's etcd pod, whose environment carries what etcdctl needs:
// ETCDCTL_API=3, ETCDCTL_ENDPOINTS (the client URLs of all members,
// comma separated), ETCDCTL_CACERT (the etcd serving CA bundle),
// ETCDCTL_CERT and ETCDCTL_KEY (that node's etcd peer certificate, which etcd
// accepts as a client certificate), all mounted from
// /etc/kubernetes/static-pod-certs. FromEnv reads the same variables (plus
// ETCDCTL_DIAL_TIMEOUT), so a program run in that shell, or in a pod or CI
// job given the same variables, gets the client the runbook's commands use.
// New takes the same settings explicitly.
//
// Both check, before returning, that at least one endpoint answers a status
// request (which needs no quorum, so it works on the degraded clusters the
// runbook repairs), and explain a failure instead of timing out later. Set
// Config.SkipCheck to connect lazily.
//
// # Flow control
//
// The clients' gRPC connections use static flow-control windows of 8 MiB
// per stream and 16 MiB per connection instead of gRPC's 64 KiB grown by
// its bandwidth-delay estimate, so that a snapshot stream (the whole
// database in 32 KiB messages) is not acknowledged every few dozen KiB.
// A stream whose reader falls behind holds at most its window in memory.
//
// # Errors
//
// Settings wrong in themselves are lifeboat.ErrInvalidOptions, the kind
// every lifeboat package uses for the caller's options, carried by a
// *lifeboat.OptionsError whose Option names the variable (FromEnv,
// "ETCDCTL_DIAL_TIMEOUT") or Config field (New,
// "etcdconn.Config.DialTimeout"), returned before any file is read: no
// endpoint (ETCDCTL_ENDPOINTS unset or empty; its cause is
// ErrNoEndpoints), a dial timeout that does not parse, is not positive
// (ETCDCTL_DIAL_TIMEOUT) or is negative (Config.DialTimeout).
//
// Files that cannot be used are *ConfigError, naming the variable or
// Config field and the file, matching one of:
//
//   - ErrCA: the CA bundle is unreadable or holds no certificate.
//   - ErrKeyPair: the client certificate or key is unreadable, they do not
//     match, only one is set, or the certificate has expired.
//
// Failure to reach the cluster is *ConnectError wrapping ErrUnreachable and,
// when a TLS handshake shows the cause, ErrServerUntrusted (the members'
// certificates are not signed by the CA bundle: wrong ETCDCTL_CACERT) or
// ErrClientRejected (the members refuse the client certificate), or
// ErrOnlyLearners (only learners answered: members the etcd operator is
// still adding, which refuse linearizable requests and member management;
// a client keeps no learner endpoint when a voting member answers). File and
// OS causes stay in the chain (errors.Is(err, fs.ErrNotExist)).
//
// Certificate and key contents are never logged or put in errors.
package etcdconn
