//go:build !linux

package backup

import "errors"

// statfsFree is not implemented off Linux; pass a FreeSpace function.
func statfsFree(path string) (uint64, error) {
	return 0, errors.New("measuring free space is only implemented on Linux")
}
