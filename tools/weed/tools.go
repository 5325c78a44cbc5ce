//go:build tools

// Package tools pins the S3-compatible server (SeaweedFS's weed) that
// backup/offsite's tests upload to. hack/tools.sh s3 builds it from this
// module into a cache outside the repo; nothing else needs it.
package tools

import (
	_ "github.com/seaweedfs/seaweedfs/weed"
)
