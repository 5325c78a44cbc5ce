package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"filippo.io/age"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"gocloud.dev/blob"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/backup/offsite"
	"github.com/lifeboat-dev/lifeboat/host"
)

// stream runs offsite.Stream (the public pipeline: snapshot → sha256
// trailer check → zstd → age → multipart upload, manifest last) from the
// member to dest, with a small master tree for the static resources
// archive, and prints one JSON line.
func stream(ctx context.Context, cli *clientv3.Client, dest, recipient string, zstdLevel int) error {
	root, err := os.MkdirTemp("", "benchsnap-master-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	for _, c := range backup.Components() {
		dir := filepath.Join(root, "etc/kubernetes/static-pod-resources", c+"-pod-1")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, c+"-pod.yaml"), []byte("kind: Pod\n"), 0o644); err != nil {
			return err
		}
	}
	start := time.Now()
	res, err := offsite.Stream(ctx, cli, offsite.StreamOptions{
		Host:        host.NewLocal("bench", root, host.LocalOptions{}),
		Force:       true, // no Kubernetes API in the benchmark
		Destination: offsite.Destination{URL: dest, Prefix: fmt.Sprintf("bench-%d", time.Now().UnixNano()), Recipients: []string{recipient}},
		ZstdLevel:   zstdLevel,
	})
	if err != nil {
		return err
	}
	snap := res.Manifest.Object(offsite.RoleSnapshot)
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"size": snap.Size, "stored": snap.StoredSize, "ratio": float64(snap.Size) / float64(snap.StoredSize),
		"revision": res.Manifest.Revision, "seconds": time.Since(start).Seconds(),
	})
}

// ceiling reads the member's snapshot stream and discards it: no disk, no
// hash, its own gRPC connection with large flow-control windows. It is the
// physical ceiling backup.Snapshot is measured against.
//
// window is the stream's flow-control window in bytes (the connection's
// is twice that); 0 leaves gRPC's default (64 KiB growing with its
// bandwidth-delay estimate).
func ceiling(ctx context.Context, endpoint, cacert, cert, key string, window int) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return err
	}
	creds := grpc.WithTransportCredentials(insecure.NewCredentials())
	if u.Scheme == "https" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if cacert != "" {
			pem, err := os.ReadFile(cacert)
			if err != nil {
				return err
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return errors.New("no CA certificate in " + cacert)
			}
		}
		if cert != "" {
			kp, err := tls.LoadX509KeyPair(cert, key)
			if err != nil {
				return err
			}
			cfg.Certificates = []tls.Certificate{kp}
		}
		creds = grpc.WithTransportCredentials(credentials.NewTLS(cfg))
	}
	dopts := []grpc.DialOption{creds, grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64 << 20))}
	if window > 0 {
		dopts = append(dopts, grpc.WithInitialWindowSize(int32(window)), grpc.WithInitialConnWindowSize(int32(2*window)))
	}
	conn, err := grpc.NewClient(u.Host, dopts...)
	if err != nil {
		return err
	}
	defer conn.Close()
	start := time.Now()
	ss, err := pb.NewMaintenanceClient(conn).Snapshot(ctx, &pb.SnapshotRequest{})
	if err != nil {
		return err
	}
	var n int64
	for {
		resp, err := ss.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		n += int64(len(resp.Blob))
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"size": n, "seconds": time.Since(start).Seconds()})
}

// agekey prints a new age X25519 recipient (the identity is dropped: the
// benchmark never decrypts).
func agekey() error {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return err
	}
	fmt.Println(id.Recipient().String())
	return nil
}

// s3wait waits until an object can be written to the bucket at u.
func s3wait(ctx context.Context, u string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		b, err := blob.OpenBucket(ctx, u)
		if err == nil {
			err = b.WriteAll(ctx, "probe", []byte("x"), nil)
			if err == nil {
				err = b.Delete(ctx, "probe")
			}
			b.Close()
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("storage not writable after %v: %w", d, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// put uploads n random bytes to dest, as one multipart upload with the
// part size and concurrency offsite.Stream uses: what the storage alone
// costs.
func put(ctx context.Context, dest string, n int64) error {
	b, err := blob.OpenBucket(ctx, dest)
	if err != nil {
		return err
	}
	defer b.Close()
	start := time.Now()
	// The transfer manager configured as offsite's S3 writer configures it.
	before := func(as func(any) bool) error {
		var tm *transfermanager.Client
		var client *s3.Client
		if as(&tm) && b.As(&client) {
			*tm = *transfermanager.New(client, func(o *transfermanager.Options) {
				o.PartSizeBytes, o.MultipartUploadThreshold = offsite.DefaultS3PartSize, offsite.DefaultS3PartSize
				o.Concurrency = offsite.DefaultStreamConcurrency
				o.RequestChecksumCalculation = client.Options().RequestChecksumCalculation
			})
		}
		return nil
	}
	w, err := b.NewWriter(ctx, fmt.Sprintf("put-%d", time.Now().UnixNano()), &blob.WriterOptions{MaxConcurrency: offsite.DefaultStreamConcurrency, BeforeWrite: before})
	if err != nil {
		return err
	}
	r := rand.NewChaCha8([32]byte{2})
	if _, err := io.CopyN(w, r, n); err != nil {
		w.Close()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"size": n, "seconds": time.Since(start).Seconds()})
}
