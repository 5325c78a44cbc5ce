package cli

import (
	"context"
	"flag"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// EtcdFlags are the etcd connection flags: client URLs and TLS files, or
// none for the ETCDCTL_* variables of a master's etcd pod.
type EtcdFlags struct {
	Endpoints, CACert, Cert, Key string
}

// Register adds <prefix>endpoints, <prefix>cacert, <prefix>cert and
// <prefix>key to fs (prefix "" or "etcd-").
func (e *EtcdFlags) Register(fs *flag.FlagSet, prefix string) {
	fs.StringVar(&e.Endpoints, prefix+"endpoints", "", "comma-separated etcd client URLs; empty means $ETCDCTL_ENDPOINTS and the other ETCDCTL_* variables")
	fs.StringVar(&e.CACert, prefix+"cacert", "", "etcd CA bundle (with -"+prefix+"endpoints)")
	fs.StringVar(&e.Cert, prefix+"cert", "", "etcd client certificate (with -"+prefix+"endpoints)")
	fs.StringVar(&e.Key, prefix+"key", "", "etcd client key (with -"+prefix+"endpoints)")
}

// Client connects as EtcdClient does. The caller closes it.
func (e *EtcdFlags) Client(ctx context.Context) (*clientv3.Client, error) {
	return EtcdClient(ctx, e.Endpoints, e.CACert, e.Cert, e.Key)
}
