package offsite

import (
	"net/http"
	"slices"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
)

// DefaultS3PartSize is the part size, in bytes, of an S3 multipart
// upload when PartSize is 0: S3's minimum part size (5 MiB). An object
// of unknown size (a stream) can have at most 10,000 parts, so the
// default stores objects of up to about 48 GiB, well above etcd's 8 GiB
// database limit even uncompressed.
const DefaultS3PartSize = 5 << 20

// s3Upload returns a blob.WriterOptions.BeforeWrite hook that bounds the
// memory of an upload to an S3 bucket: partSize (0: DefaultS3PartSize)
// bytes per part, concurrency parts in flight (0: the SDK's default),
// and a first part read like the others.
//
// The S3 transfer manager gocloud.dev uses buffers Concurrency+1 parts
// of PartSize, and first reads up to its multipart threshold (16 MiB)
// into a buffer grown by appending, before it knows whether the upload
// is multipart: tens of MiB allocated per object for nothing. With the
// threshold at the part size the first part costs what every other part
// does. The checksum setting is the bucket's client's (what a bucket
// opened from a URL gives the transfer manager too). The parts go over
// HTTP/1.1 (see uploadHTTPClient). Buckets of other drivers are left as
// they are.
func s3Upload(bucket *blob.Bucket, partSize, concurrency int) func(as func(any) bool) error {
	return func(as func(any) bool) error {
		var tm *transfermanager.Client
		var client *s3.Client
		if !as(&tm) || tm == nil || !bucket.As(&client) || client == nil {
			return nil
		}
		if partSize == 0 {
			partSize = DefaultS3PartSize
		}
		checksum := client.Options().RequestChecksumCalculation
		if hc, ok := uploadHTTPClient(client.Options().HTTPClient); ok {
			client = s3.New(client.Options(), func(o *s3.Options) { o.HTTPClient = hc })
		}
		*tm = *transfermanager.New(client, func(o *transfermanager.Options) {
			o.PartSizeBytes = int64(partSize)
			o.MultipartUploadThreshold = int64(partSize)
			o.Concurrency = concurrency
			o.RequestChecksumCalculation = checksum
		})
		return nil
	}
}

// uploadHTTPClient returns the AWS SDK's default HTTP client c (with every
// setting the SDK's configuration gave it: its CA bundle, timeouts, proxy)
// speaking only HTTP/1.1, and true; c itself and false when it is an HTTP
// client the caller built (a Bucket opened by the caller keeps its own).
//
// The SDK forces HTTP/2 on whatever endpoint offers it. AWS S3 does not,
// but S3-compatible servers often do (SeaweedFS, a Go server behind
// TLS), and there the parts of a multipart upload share one connection,
// its flow-control window and its 16 KiB frames: on hack/bench-offsite.sh
// the upload alone cost the client 1.26 CPU-s over HTTP/2 and 0.78 over
// HTTP/1.1, and the server 5.1 and 4.7 CPU-s, for the same 450 MiB. Over
// HTTP/1.1 each part in flight has its own connection, as it has on AWS.
func uploadHTTPClient(c s3.HTTPClient) (s3.HTTPClient, bool) {
	b, ok := c.(*awshttp.BuildableClient)
	if !ok || b == nil {
		return c, false
	}
	return b.WithTransportOptions(func(tr *http.Transport) {
		var p http.Protocols
		p.SetHTTP1(true)
		tr.Protocols = &p
		tr.ForceAttemptHTTP2 = false
		// A transport already used over HTTP/2 offers "h2" in its TLS
		// handshake: the server would pick it.
		if tr.TLSClientConfig != nil {
			tc := tr.TLSClientConfig.Clone()
			tc.NextProtos = slices.DeleteFunc(tc.NextProtos, func(p string) bool { return p != "http/1.1" })
			tr.TLSClientConfig = tc
		}
	}), true
}
