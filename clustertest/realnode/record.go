package realnode

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/lifeboat-dev/lifeboat/internal/atomicfile"
	"github.com/lifeboat-dev/lifeboat/internal/toolchain"
)

// record is what a running node changed, kept in the cache directory
// (realnode.json) from before its first change until Close has undone
// everything: when the process running a node dies without Close (a test
// binary's timeout panics; SIGKILL), the next New finds it and undoes
// that node's changes first (recoverStale). Pdeathsig already ends
// containerd and the kubelet with their parent; shims, containers,
// mounts, cgroups, the lo address and kernel settings stay until then.
type record struct {
	Before     machineState `json:"before"`
	Dir        string       `json:"dir"`
	CgroupName string       `json:"cgroupName"`
	NodeIP     string       `json:"nodeIP"`
	AddedAddr  bool         `json:"addedAddr"`
}

func recordPath() (string, error) {
	dir, err := toolchain.CacheRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "realnode.json"), nil
}

// writeRecord records n's changes so far (the lock is held).
func (n *Node) writeRecord() error {
	p, err := recordPath()
	if err != nil {
		return err
	}
	b, err := json.Marshal(record{Before: n.before, Dir: n.dir, CgroupName: n.cgroupName, NodeIP: n.opts.NodeIP, AddedAddr: n.addedAddr})
	if err != nil {
		return fmt.Errorf("realnode: record: %w", err)
	}
	if err := atomicfile.WriteFile(p, bytes.NewReader(b), 0o600); err != nil {
		return fmt.Errorf("realnode: record: %w", err)
	}
	return nil
}

func removeRecord() error {
	p, err := recordPath()
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("realnode: record: %w", err)
	}
	return nil
}

// recoverStale undoes what a node whose process died without Close
// changed, from its record (the lock is held, so no node runs). It
// reports whether there was one.
func recoverStale(ctx context.Context, n *Node) (bool, error) {
	p, err := recordPath()
	if err != nil {
		return false, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("realnode: record: %w", err)
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return true, fmt.Errorf("realnode: record %s: %w (remove it once the machine is checked by hand)", p, err)
	}
	stale := &Node{opts: Options{NodeIP: rec.NodeIP}, log: n.log, dir: rec.Dir, cgroupName: rec.CgroupName, addedAddr: rec.AddedAddr, before: rec.Before}
	if rec.CgroupName != "" {
		for _, base := range cgroupBases() {
			stale.madeCgroups = append(stale.madeCgroups, filepath.Join(base, rec.CgroupName))
		}
	}
	errs := stale.undo(ctx)
	if rec.Dir != "" {
		if err := os.RemoveAll(rec.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return true, fmt.Errorf("realnode: undoing the node of %s (its process died without Close): %w", p, errors.Join(errs...))
	}
	n.log.Warn("undid the changes of a node whose process died without Close", "dir", rec.Dir)
	return true, removeRecord()
}
