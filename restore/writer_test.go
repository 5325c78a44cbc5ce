package restore

import (
	"context"

	"github.com/lifeboat-dev/lifeboat/restore/internal/etcdutlwrite"
)

// etcdutlWriter is inprocess.WriteDataDir for restore's internal tests,
// which cannot import restore/inprocess (it imports restore): the same
// call, through the package both use.
func etcdutlWriter(ctx context.Context, spec DataDirSpec) error {
	return etcdutlwrite.Write(ctx, etcdutlwrite.Config(spec))
}
