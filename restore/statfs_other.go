//go:build !linux

package restore

import "errors"

// statfs is not implemented off Linux; set Options.FreeSpace.
func statfs(path string) (FreeSpace, error) {
	return FreeSpace{}, errors.New("free space: statfs is only implemented on Linux; set Options.FreeSpace")
}
