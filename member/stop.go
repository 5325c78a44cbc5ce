package member

import (
	"context"
	"errors"
	"fmt"
	"github.com/lifeboat-dev/lifeboat/internal/names"
	"io/fs"
	"log/slog"
	"path"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/internal/opterr"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// StopOptions configures StopEtcdMember. Zero values are the runbook's
// paths and a one-second poll.
type StopOptions struct {
	ManifestPath string // "/etc/kubernetes/manifests/etcd-pod.yaml"
	BackupDir    string // "/var/lib/etcd-backup"
	DataDir      string // "/var/lib/etcd"
	// DataDirDest is where the data directory goes ("/tmp/etcd"). When a
	// different directory is already there, a timestamped name beside it
	// is used ("/tmp/etcd-20201124-180900").
	DataDirDest string
	// Interval between container listings while waiting for etcd to stop;
	// 1 s when zero, negative is invalid.
	Interval time.Duration
	// Now is the clock for timestamped names; time.Now when nil.
	Now func() time.Time
	// Logger receives what the step does; nil discards.
	Logger *slog.Logger
}

func (o StopOptions) withDefaults() StopOptions {
	if o.ManifestPath == "" {
		o.ManifestPath = "/etc/kubernetes/manifests/etcd-pod.yaml"
	}
	if o.BackupDir == "" {
		o.BackupDir = names.EtcdBackupDir
	}
	if o.DataDir == "" {
		o.DataDir = names.EtcdDataDir
	}
	if o.DataDirDest == "" {
		o.DataDirDest = "/tmp/etcd"
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// StopResult says where things went.
type StopResult struct {
	// ManifestMovedTo is where etcd-pod.yaml is now; "" when there was none.
	ManifestMovedTo string
	// DataDirMovedTo is where the data directory is now; "" when none.
	DataDirMovedTo string
	// Notes describe steps found already done.
	Notes []string
}

// StopEtcdMember stops the crashlooping etcd member on h (runbook 2.4.2
// step 1): it creates /var/lib/etcd-backup, moves the etcd static pod
// manifest into it, waits until the kubelet has stopped every etcd
// container (what "crictl ps --name etcd" lists, the etcd operator's own
// containers excepted), then moves /var/lib/etcd to /tmp/etcd. Nothing is
// deleted. Running it again after it succeeded (or failed half way) is
// safe: moves already made are recognised. What it waits for goes to
// plan.ReportProgress (the calling step's Progress events, or
// plan.WithReport's report outside a plan).
func StopEtcdMember(ctx context.Context, h host.Host, opts StopOptions) (*StopResult, error) {
	if h == nil {
		return nil, opterr.Nil("member.StopEtcdMember h")
	}
	if err := opterr.Negative("member.StopOptions.Interval", opts.Interval); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	res := &StopResult{}
	fail := func(what string, err error) (*StopResult, error) {
		return res, fmt.Errorf("member: stop etcd on %s: %s: %w", h.Name(), what, err)
	}
	if err := h.MkdirAll(ctx, o.BackupDir, 0o700); err != nil {
		return fail("mkdir "+o.BackupDir, err)
	}

	// mv /etc/kubernetes/manifests/etcd-pod.yaml /var/lib/etcd-backup/
	dst := path.Join(o.BackupDir, path.Base(o.ManifestPath))
	moved, err := moveAside(ctx, h, o.ManifestPath, dst, o.Now)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		res.Notes = append(res.Notes, fmt.Sprintf("no %s and no %s: the kubelet has no etcd manifest", o.ManifestPath, dst))
	case err != nil:
		return fail("moving the etcd manifest aside", err)
	default:
		res.ManifestMovedTo = moved
	}

	// Wait for the kubelet to stop the pod.
	err = wait.PollUntilContextCancel(ctx, o.Interval, true, func(ctx context.Context) (bool, error) {
		cs, err := h.Containers(ctx, "etcd")
		if err != nil {
			return false, err
		}
		var running []string
		for _, c := range cs {
			if strings.Contains(c.Name, "operator") {
				continue
			}
			running = append(running, c.Name)
		}
		if len(running) == 0 {
			return true, nil
		}
		plan.ReportProgress(ctx, fmt.Sprintf("waiting for %d etcd containers to stop on %s: %s", len(running), h.Name(), strings.Join(running, ", ")))
		return false, nil
	})
	if err != nil {
		return fail("waiting for the etcd containers to stop", err)
	}

	// mv /var/lib/etcd/ /tmp
	moved, err = moveAside(ctx, h, o.DataDir, o.DataDirDest, o.Now)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		res.Notes = append(res.Notes, fmt.Sprintf("no %s and no %s: no data directory to move", o.DataDir, o.DataDirDest))
	case err != nil:
		return fail("moving the etcd data directory aside", err)
	default:
		res.DataDirMovedTo = moved
	}
	o.Logger.InfoContext(ctx, "stopped etcd member", "host", h.Name(), "manifest", res.ManifestMovedTo, "dataDir", res.DataDirMovedTo)
	return res, nil
}

// moveAside moves src to dst; when dst is taken by something else, to dst
// with a timestamp suffix. It returns where src is now. When src is absent
// and dst present the move already happened. Both absent: fs.ErrNotExist.
func moveAside(ctx context.Context, h host.Host, src, dst string, now func() time.Time) (string, error) {
	if _, err := h.Stat(ctx, src); errors.Is(err, fs.ErrNotExist) {
		if _, err := h.Stat(ctx, dst); err == nil {
			return dst, nil
		}
		return "", fmt.Errorf("%s: %w", src, fs.ErrNotExist)
	} else if err != nil {
		return "", err
	}
	if _, err := h.Stat(ctx, dst); err == nil {
		dst = dst + "-" + now().UTC().Format("20060102-150405.000000000")
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err := h.Move(ctx, src, dst); err != nil {
		return "", err
	}
	return dst, nil
}
