package offsite

import (
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
// opened from a URL gives the transfer manager too). Buckets of other
// drivers are left as they are.
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
		*tm = *transfermanager.New(client, func(o *transfermanager.Options) {
			o.PartSizeBytes = int64(partSize)
			o.MultipartUploadThreshold = int64(partSize)
			o.Concurrency = concurrency
			o.RequestChecksumCalculation = checksum
		})
		return nil
	}
}
