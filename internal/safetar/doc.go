// Package safetar extracts tar archives (plain or gzip-compressed) that
// come from outside the process, such as the static_kuberesources_<ts>.tar.gz
// of an etcd backup, without letting an entry write anywhere it should not.
//
// Every entry is checked before anything is written: [Extract] reads the
// archive once to validate all headers and sizes and only then reads it a
// second time to write. An archive with one bad entry therefore leaves the
// destination untouched.
//
// Refused entries (errors wrap [ErrUnsafeEntry]):
//   - absolute names ("/etc/passwd") and names with a ".." element
//   - names containing NUL or backslashes, empty names
//   - symbolic and hard links whose target is absolute, or leaves the tree
//     once the links already in the archive are followed
//   - entries whose path goes through a symbolic link of the archive
//   - character and block devices, FIFOs and other special types
//
// Limits (errors wrap [ErrTooLarge]): the size of one file, the total size of
// all files and the number of entries, with defaults in [Options].
//
// The destination is a [Target]: anything with MkdirAll and WriteFile on
// slash-separated absolute paths, which a host.Host is. [DirTarget] is a
// local directory opened with os.Root, so even a bug here cannot make it
// write outside the directory. Set-uid, set-gid and sticky bits are dropped;
// owners are not restored.
package safetar
