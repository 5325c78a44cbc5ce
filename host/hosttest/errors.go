package hosttest

import "errors"

// ErrCommandRefused is wrapped by Run on a [Dir] that was given no
// [DirOptions.Run]: the test did not expect a command.
var ErrCommandRefused = errors.New("hosttest: command refused (no DirOptions.Run)")

// ErrUnimplemented is wrapped by every operation of an [Unimplemented]
// host: the test did not expect that operation.
var ErrUnimplemented = errors.New("hosttest: operation not implemented by this fake")
