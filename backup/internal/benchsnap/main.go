// Command benchsnap is the lifeboat side of hack/bench-snapshot.sh: it
// runs backup.Snapshot in a process of its own, so its wall time and peak
// RSS are measured the same way as etcdctl's and etcdutl's.
//
//	benchsnap save -endpoint URL [-cacert F -cert F -key F] -out FILE
//	benchsnap fill -endpoint URL [-cacert F -cert F -key F] -bytes N [-value-size N]
//	benchsnap verify -out FILE
//	benchsnap stream -endpoint URL [-cacert F -cert F -key F] -dest BUCKET-URL -recipient AGE-KEY [-zstd-level N]
//	benchsnap ceiling -endpoint URL [-cacert F -cert F -key F]
//	benchsnap s3wait -dest BUCKET-URL
//	benchsnap agekey
//	benchsnap put -dest BUCKET-URL -bytes N
//
// save prints one JSON line describing the snapshot; fill writes N bytes
// of incompressible values in keys of -value-size bytes (the benchmark's
// data set);
// verify runs backup.VerifySnapshot (hash pass and bolt check) on a file;
// stream runs offsite.Stream to a bucket (hack/bench-offsite.sh), ceiling
// reads the snapshot stream and discards it, s3wait waits for a bucket.
package main

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/etcdconn"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchsnap save|fill [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	endpoint := fs.String("endpoint", "http://127.0.0.1:2379", "etcd client URL")
	cacert := fs.String("cacert", "", "CA bundle")
	cert := fs.String("cert", "", "client certificate")
	key := fs.String("key", "", "client key")
	out := fs.String("out", "", "snapshot file (save)")
	size := fs.Int64("bytes", 1<<30, "bytes to write (fill)")
	valueSize := fs.Int("value-size", 1<<20, "bytes per value (fill); small values are written 128 to a transaction")
	text := fs.Bool("text", false, "fill values with Kubernetes-like JSON objects with random names, UIDs and data (compressible, as etcd's objects are) instead of random bytes")
	dest := fs.String("dest", "", "bucket URL (stream, s3wait)")
	recipient := fs.String("recipient", "", "age public key (stream)")
	zstdLevel := fs.Int("zstd-level", 0, "zstd level (stream)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile here (stream)")
	window := fs.Int("window", 16<<20, "gRPC stream flow-control window in bytes, the connection's twice that; 0 for gRPC's default (ceiling)")
	memprofile := fs.String("memprofile", "", "write an allocation profile here at the end (stream, put)")
	fs.Parse(os.Args[2:])
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if *memprofile != "" {
		runtime.MemProfileRate = 64 << 10
		defer func() {
			if f, err := os.Create(*memprofile); err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}

	ctx := context.Background()
	switch os.Args[1] {
	case "ceiling", "s3wait", "agekey", "put":
		var err error
		switch os.Args[1] {
		case "put":
			err = put(ctx, *dest, *size)
		case "ceiling":
			err = ceiling(ctx, *endpoint, *cacert, *cert, *key, *window)
		case "s3wait":
			err = s3wait(ctx, *dest, 5*time.Minute)
		default:
			err = agekey()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if os.Args[1] == "verify" {
		info, err := backup.VerifySnapshot(ctx, *out, backup.VerifySnapshotOptions{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		json.NewEncoder(os.Stdout).Encode(info)
		return
	}
	cli, err := etcdconn.New(ctx, etcdconn.Config{Endpoints: []string{*endpoint}, CAFile: *cacert, CertFile: *cert, KeyFile: *key})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer cli.Close()
	switch os.Args[1] {
	case "save":
		err = save(ctx, cli, *out)
	case "fill":
		err = fill(ctx, cli, *size, *valueSize, *text)
	case "stream":
		err = stream(ctx, cli, *dest, *recipient, *zstdLevel)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func save(ctx context.Context, cli *clientv3.Client, out string) error {
	res, err := backup.Snapshot(ctx, cli, filepath.Dir(out), backup.SnapshotOptions{Name: filepath.Base(out)})
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"size": res.Size, "revision": res.Revision, "sha256": res.SHA256, "seconds": res.Duration.Seconds(),
	})
}

func fill(ctx context.Context, cli *clientv3.Client, total int64, valueSize int, text bool) error {
	r := rand.NewChaCha8([32]byte{1})
	perTxn := max(1, min(128, (1<<20)/valueSize))
	start := time.Now()
	var key int64
	for written := int64(0); written < total; {
		ops := make([]clientv3.Op, 0, perTxn)
		for range perTxn {
			val := make([]byte, valueSize)
			r.Read(val)
			if text {
				objects(r, val)
			}
			ops = append(ops, clientv3.OpPut(fmt.Sprintf("/bench/%09d", key), string(val)))
			key++
			written += int64(valueSize)
		}
		if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "wrote %d MiB in %d keys of %d bytes in %s\n", total>>20, key, valueSize, time.Since(start).Round(time.Second))
	return nil
}

// objects fills val with Kubernetes-like objects whose names, UIDs and
// data are random: compressible as etcd's content is (repeated field
// names, random identifiers and payloads), not trivially.
func objects(r *rand.ChaCha8, val []byte) {
	b := val[:0]
	rnd := make([]byte, 96)
	for len(b) < len(val) {
		r.Read(rnd)
		b = fmt.Appendf(b, `{"kind":"Secret","apiVersion":"v1","metadata":{"name":"tls-%x","namespace":"ns-%x","uid":"%x","resourceVersion":"%d","labels":{"app":"a%x"}},"type":"kubernetes.io/tls","data":{"tls.crt":"%s"}}`,
			rnd[0:4], rnd[4:6], rnd[6:22], binary.BigEndian.Uint32(rnd[22:26]), rnd[26:27], base64.StdEncoding.EncodeToString(rnd[27:96]))
	}
	copy(val, b)
}
