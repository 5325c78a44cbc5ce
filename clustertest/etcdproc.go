// The etcd member plumbing shared by EtcdCluster and the simulated kubelets:
// member certificates, the member command line, readiness probes and the
// TLS client configuration.

package clustertest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"k8s.io/apimachinery/pkg/util/wait"
)

// Timing of the simulated etcd members: a loopback cluster elects a leader in
// well under a second with these, instead of etcd's defaults of 100ms/1s.
const (
	etcdHeartbeatMillis = 50
	etcdElectionMillis  = 500
	etcdStopTimeout     = 10 * time.Second
	etcdPollInterval    = 50 * time.Millisecond
	etcdStartAttempts   = 3
)

// waitEtcdPeerServing polls an etcd peer URL until it answers GET /version
// with the peer TLS files, exited is closed, or ctx ends.
func waitEtcdPeerServing(ctx context.Context, peerURL string, peerTLS TLSFiles, exited <-chan struct{}) error {
	tc, err := tlsConfig(peerTLS)
	if err != nil {
		return err
	}
	tr := &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 200 * time.Millisecond}
	return wait.PollUntilContextCancel(ctx, 10*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		select {
		case <-exited:
			return false, errors.New("process exited")
		default:
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, peerURL+"/version", nil)
		if err != nil {
			return false, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

// etcdReadOnce does one linearizable read, bounded to a second.
func etcdReadOnce(ctx context.Context, cl *clientv3.Client) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err := cl.Get(ctx, "health")
	return err
}

// etcdSerializableReadOnce does one serializable read, bounded to a second:
// what a learner serves.
func etcdSerializableReadOnce(ctx context.Context, cl *clientv3.Client) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err := cl.Get(ctx, "health", clientv3.WithSerializable())
	return err
}

// issueEtcdMemberCerts issues a member's serving certificate
// ("etcd-serving-<name>", server and client usage, for 127.0.0.1 and
// localhost) and peer certificate ("etcd-peer-<name>", both usages), as the
// etcd operator does for each master.
func issueEtcdMemberCerts(p *PKI, name string) (server, peer TLSFiles, err error) {
	sans := CertOptions{
		CommonName: "system:etcd-server:" + name,
		DNSNames:   []string{"localhost"},
		IPs:        []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	if server, err = p.Issue("etcd-serving-"+name, sans); err != nil {
		return TLSFiles{}, TLSFiles{}, err
	}
	sans.CommonName = "system:etcd-peer:" + name
	if peer, err = p.Issue("etcd-peer-"+name, sans); err != nil {
		return TLSFiles{}, TLSFiles{}, err
	}
	return server, peer, nil
}

// etcdMemberConfig describes one member's command line (see etcdMemberArgs).
type etcdMemberConfig struct {
	Name, DataDir      string
	ClientURL, PeerURL string
	// InitialCluster is the --initial-cluster value (name=peerURL,...).
	InitialCluster string
	// InitialClusterNew selects --initial-cluster-state new; false is
	// "existing" (a member added to a running cluster).
	InitialClusterNew bool
	ClusterToken      string
	ServerTLS         TLSFiles
	PeerTLS           TLSFiles
	QuotaBackendBytes int64
}

// etcdMemberArgs returns the etcd arguments (without the binary) for a member
// with TLS and client certificate authentication on client and peer URLs and
// timing suited to loopback. The simulated kubelets run members with the same
// flags.
func etcdMemberArgs(cfg etcdMemberConfig) []string {
	state := "existing"
	if cfg.InitialClusterNew {
		state = "new"
	}
	args := []string{
		"--name=" + cfg.Name,
		"--data-dir=" + cfg.DataDir,
		"--listen-client-urls=" + cfg.ClientURL,
		"--advertise-client-urls=" + cfg.ClientURL,
		"--listen-peer-urls=" + cfg.PeerURL,
		"--initial-advertise-peer-urls=" + cfg.PeerURL,
		"--initial-cluster=" + cfg.InitialCluster,
		"--initial-cluster-state=" + state,
		"--cert-file=" + cfg.ServerTLS.CertFile,
		"--key-file=" + cfg.ServerTLS.KeyFile,
		"--trusted-ca-file=" + cfg.ServerTLS.CAFile,
		"--client-cert-auth=true",
		"--peer-cert-file=" + cfg.PeerTLS.CertFile,
		"--peer-key-file=" + cfg.PeerTLS.KeyFile,
		"--peer-trusted-ca-file=" + cfg.PeerTLS.CAFile,
		"--peer-client-cert-auth=true",
		"--heartbeat-interval=" + strconv.Itoa(etcdHeartbeatMillis),
		"--election-timeout=" + strconv.Itoa(etcdElectionMillis),
		"--logger=zap",
		"--log-outputs=stderr",
	}
	if cfg.ClusterToken != "" {
		args = append(args, "--initial-cluster-token="+cfg.ClusterToken)
	}
	if cfg.QuotaBackendBytes > 0 {
		args = append(args, "--quota-backend-bytes="+strconv.FormatInt(cfg.QuotaBackendBytes, 10))
	}
	return args
}

// newEtcdClient returns a client for endpoints using the TLS files. It
// connects lazily; etcd client logging is discarded.
func newEtcdClient(endpoints []string, files TLSFiles) (*clientv3.Client, error) {
	tc, err := tlsConfig(files)
	if err != nil {
		return nil, err
	}
	cl, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		TLS:         tc,
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
		// Members start, stop and restart all the time here: reconnect
		// within tens of milliseconds instead of gRPC's default 1s backoff.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{
				BaseDelay:  etcdPollInterval,
				Multiplier: 1.6,
				Jitter:     0.2,
				MaxDelay:   time.Second,
			},
			MinConnectTimeout: time.Second,
		})},
	})
	if err != nil {
		return nil, fmt.Errorf("clustertest: etcd client for %v: %w", endpoints, err)
	}
	return cl, nil
}

// tlsConfig builds a client TLS configuration from PEM files.
func tlsConfig(files TLSFiles) (*tls.Config, error) {
	caPEM, err := os.ReadFile(files.CAFile)
	if err != nil {
		return nil, fmt.Errorf("clustertest: reading CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("clustertest: %s holds no PEM certificate", files.CAFile)
	}
	cert, err := tls.LoadX509KeyPair(files.CertFile, files.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("clustertest: loading client certificate %s: %w", files.CertFile, err)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
