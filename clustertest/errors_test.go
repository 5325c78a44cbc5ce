package clustertest

import (
	"testing"

	"github.com/lifeboat-dev/lifeboat/internal/errtest"
)

// TestSentinelsAreDistinct pins every exported sentinel of the package:
// each one is its own failure kind (no two match each other with
// errors.Is) and survives %w wrapping with an operation and target.
func TestSentinelsAreDistinct(t *testing.T) {
	sentinels := map[string]error{
		"ErrBinariesMissing": ErrBinariesMissing, "ErrCRDsMissing": ErrCRDsMissing, "ErrHostDown": ErrHostDown, "ErrNoHost": ErrNoHost,
	}
	errtest.Sentinels(t, sentinels)
}
