package backup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	configv1 "github.com/openshift/api/config/v1"
	configclient "github.com/openshift/client-go/config/clientset/versioned"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"
)

// Operators returns the ClusterOperators that must not be Progressing when
// a backup is taken (cluster-backup.sh checks the same four):
// kube-apiserver, kube-controller-manager, kube-scheduler, etcd. The slice
// is new on each call.
func Operators() []string {
	return []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"}
}

// DefaultMinClusterAge is how long after installation the first
// certificate rotation completes; a backup taken earlier holds
// certificates that expire.
const DefaultMinClusterAge = 24 * time.Hour

// CheckOperators returns a *PrecheckError wrapping ErrOperatorProgressing
// when one of Operators() is Progressing, or ErrOperatorStatusUnknown
// when one, or its Progressing condition, cannot be read.
func CheckOperators(ctx context.Context, cfg configclient.Interface) error {
	if cfg == nil {
		return opterr.Nil("backup.CheckOperators cfg")
	}
	for _, name := range Operators() {
		co, err := cfg.ConfigV1().ClusterOperators().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return &PrecheckError{
				Check:  "operators",
				Reason: fmt.Sprintf("could not read ClusterOperator %s: %v", name, err),
				Fix:    "check that the API server is reachable (oc get co " + name + "), or take the backup with Force",
				Err:    fmt.Errorf("%w: %w", ErrOperatorStatusUnknown, err),
			}
		}
		var cond *configv1.ClusterOperatorStatusCondition
		for i := range co.Status.Conditions {
			if co.Status.Conditions[i].Type == configv1.OperatorProgressing {
				cond = &co.Status.Conditions[i]
			}
		}
		switch {
		case cond == nil:
			return &PrecheckError{
				Check:  "operators",
				Reason: fmt.Sprintf("ClusterOperator %s has no Progressing condition", name),
				Fix:    "check the " + name + " operator (oc get co " + name + " -o yaml), or take the backup with Force",
				Err:    ErrOperatorStatusUnknown,
			}
		case cond.Status != configv1.ConditionFalse:
			return &PrecheckError{
				Check:  "operators",
				Reason: fmt.Sprintf("ClusterOperator %s is Progressing=%s (%s: %s)", name, cond.Status, cond.Reason, cond.Message),
				Fix:    "wait until the " + name + " rollout finishes (oc get co " + name + " shows PROGRESSING False), then retry",
				Err:    ErrOperatorProgressing,
			}
		}
	}
	return nil
}

// Proxy holds the cluster-wide proxy settings (config.openshift.io Proxy
// "cluster"); a backup run from a master must export them.
type Proxy struct {
	HTTPProxy  string `json:"httpProxy,omitempty"`
	HTTPSProxy string `json:"httpsProxy,omitempty"`
	NoProxy    string `json:"noProxy,omitempty"`
}

// Enabled reports whether any proxy is set.
func (p Proxy) Enabled() bool { return p.HTTPProxy != "" || p.HTTPSProxy != "" }

// Env returns the settings as HTTP_PROXY=, HTTPS_PROXY=, NO_PROXY=
// environment entries (only those that are set).
func (p Proxy) Env() []string {
	var env []string
	for _, kv := range [][2]string{{"HTTP_PROXY", p.HTTPProxy}, {"HTTPS_PROXY", p.HTTPSProxy}, {"NO_PROXY", p.NoProxy}} {
		if kv[1] != "" {
			env = append(env, kv[0]+"="+kv[1])
		}
	}
	return env
}

// ClusterInfo is what a backup records about the cluster.
type ClusterInfo struct {
	// Version is the cluster version (z-stream) last completed, e.g. "4.5.2".
	Version string
	// InstalledAt is when installation completed (the oldest ClusterVersion
	// history entry), or the ClusterVersion's creation time.
	InstalledAt time.Time
	// Proxy are the effective cluster-wide proxy settings.
	Proxy Proxy
	// Encryption is the APIServer "cluster" spec.encryption.type ("" or
	// "identity" means etcd encryption is off).
	Encryption string
}

// EncryptionEnabled reports whether etcd values are encrypted, in which
// case the static resources archive holds the encryption keys.
func (ci *ClusterInfo) EncryptionEnabled() bool {
	return ci.Encryption != "" && ci.Encryption != string(configv1.EncryptionTypeIdentity)
}

// ReadClusterInfo reads ClusterVersion "version", Proxy "cluster" and
// APIServer "cluster". A missing Proxy or APIServer means no proxy and no
// encryption; any other failure is a *PrecheckError wrapping ErrClusterInfo.
func ReadClusterInfo(ctx context.Context, cfg configclient.Interface) (*ClusterInfo, error) {
	if cfg == nil {
		return nil, opterr.Nil("backup.ReadClusterInfo cfg")
	}
	info := &ClusterInfo{}
	cv, err := cfg.ConfigV1().ClusterVersions().Get(ctx, "version", metav1.GetOptions{})
	if err != nil {
		return nil, clusterInfoError("ClusterVersion version", err)
	}
	info.Version, info.InstalledAt = clusterVersion(cv)

	px, err := cfg.ConfigV1().Proxies().Get(ctx, "cluster", metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return nil, clusterInfoError("Proxy cluster", err)
	default:
		// status holds the effective settings (noProxy completed with the
		// cluster's own networks); spec is what was asked for.
		info.Proxy = Proxy{HTTPProxy: px.Status.HTTPProxy, HTTPSProxy: px.Status.HTTPSProxy, NoProxy: px.Status.NoProxy}
		if info.Proxy == (Proxy{}) {
			info.Proxy = Proxy{HTTPProxy: px.Spec.HTTPProxy, HTTPSProxy: px.Spec.HTTPSProxy, NoProxy: px.Spec.NoProxy}
		}
	}

	as, err := cfg.ConfigV1().APIServers().Get(ctx, "cluster", metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return nil, clusterInfoError("APIServer cluster", err)
	default:
		info.Encryption = string(as.Spec.Encryption.Type)
	}
	return info, nil
}

func clusterInfoError(what string, err error) error {
	return &PrecheckError{
		Check:  "cluster-info",
		Reason: fmt.Sprintf("could not read %s: %v", what, err),
		Fix:    "check that the API server is reachable and the credentials may read config.openshift.io objects (cluster-admin), or take the backup with Force",
		Err:    fmt.Errorf("%w: %w", ErrClusterInfo, err),
	}
}

// clusterVersion returns the newest completed version and the time the
// installation completed.
func clusterVersion(cv *configv1.ClusterVersion) (string, time.Time) {
	var version string
	for _, h := range cv.Status.History { // newest first
		if h.State == configv1.CompletedUpdate {
			version = h.Version
			break
		}
	}
	if version == "" {
		version = cv.Status.Desired.Version
	}
	installed := cv.CreationTimestamp.Time
	if n := len(cv.Status.History); n > 0 {
		first := cv.Status.History[n-1]
		installed = first.StartedTime.Time
		if first.CompletionTime != nil {
			installed = first.CompletionTime.Time
		}
	}
	return version, installed
}

// CheckCertificateRotation returns a *PrecheckError wrapping ErrTooEarly
// when the cluster was installed less than minAge (0: 24 h) before now.
func CheckCertificateRotation(info *ClusterInfo, now time.Time, minAge time.Duration) error {
	if info == nil {
		return opterr.Nil("backup.CheckCertificateRotation info")
	}
	if minAge == 0 {
		minAge = DefaultMinClusterAge
	}
	if info.InstalledAt.IsZero() {
		return &PrecheckError{
			Check:  "certificate-rotation",
			Reason: "the installation time is unknown (ClusterVersion has no history and no creation time)",
			Fix:    "check the ClusterVersion object (oc get clusterversion version -o yaml)",
			Err:    ErrTooEarly,
		}
	}
	age := now.Sub(info.InstalledAt)
	if age < minAge {
		ready := info.InstalledAt.Add(minAge)
		return &PrecheckError{
			Check:  "certificate-rotation",
			Reason: fmt.Sprintf("the cluster was installed %s ago (%s); the first certificate rotation completes %s after installation", age.Round(time.Minute), info.InstalledAt.Format(time.RFC3339), minAge),
			Fix:    "take the backup after " + ready.Format(time.RFC3339),
			Err:    ErrTooEarly,
		}
	}
	return nil
}

// CheckFreeSpace returns a *PrecheckError wrapping ErrInsufficientSpace when
// the file system holding dir (or its nearest existing parent) has less
// than twice dbSize bytes available. freeSpace nil means statfs.
func CheckFreeSpace(dir string, dbSize int64, freeSpace func(dir string) (uint64, error)) error {
	if freeSpace == nil {
		freeSpace = statfsFree
	}
	p := filepath.Clean(dir)
	var (
		free uint64
		err  error
	)
	for {
		free, err = freeSpace(p)
		if err == nil || filepath.Dir(p) == p || !isNotExist(err) {
			break
		}
		p = filepath.Dir(p)
	}
	if err != nil {
		return &PrecheckError{
			Check:  "free-space",
			Reason: fmt.Sprintf("could not measure free space in %s: %v", dir, err),
			Fix:    "choose a backup directory on a mounted file system",
			Err:    fmt.Errorf("%w: %w", ErrInsufficientSpace, err),
		}
	}
	need := 2 * uint64(max(dbSize, 0))
	if free < need {
		return &PrecheckError{
			Check:  "free-space",
			Reason: fmt.Sprintf("%s has %s free, the backup needs %s (twice the etcd database size of %s)", dir, humanBytes(free), humanBytes(need), humanBytes(uint64(dbSize))),
			Fix:    "free space there or choose another backup directory",
			Err:    ErrInsufficientSpace,
		}
	}
	return nil
}

func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist)
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
