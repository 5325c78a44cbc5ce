package member

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/lifeboat-dev/lifeboat/lifecycle"
)

// defaultStateConfigMap is the ConfigMap, in openshift-etcd, that holds the
// run state of the member replacement in progress (replaceRunState, JSON,
// under key stateConfigMapKey). There is one per cluster: the runbook
// replaces one member at a time.
const (
	defaultStateConfigMap = "lifeboat-member-replacement"
	stateConfigMapKey     = "state.json"
	// labelReplacementState marks the live state ("live") and the retired
	// ones ("finished", "abandoned") for listing.
	labelReplacementState = "lifeboat.dev/member-replacement"
)

// Why a state is retired; part of the retired ConfigMap's name.
const (
	retiredFinished  = "finished"
	retiredAbandoned = "abandoned"
)

// ReplaceIdentity is what makes a member replacement run the run it is: the
// procedure (runbook "2.4.1" or "2.4.2") and the member's node name. A
// plan resumes a state only when it asks for the same identity.
type ReplaceIdentity struct {
	Procedure string `json:"procedure"`
	Node      string `json:"node"`
}

func (id ReplaceIdentity) String() string {
	return fmt.Sprintf("procedure %s for node %s", id.Procedure, id.Node)
}

// Differences names the fields in which id and other differ; none means
// they are the same run.
func (id ReplaceIdentity) Differences(other ReplaceIdentity) []string {
	var out []string
	if id.Procedure != other.Procedure {
		out = append(out, "procedure")
	}
	if id.Node != other.Node {
		out = append(out, "node")
	}
	return out
}

// replaceRunState is the persisted state of one run of ReplacePlan: which
// steps finished (and when), and what the steps learned that later steps
// need after a crash.
type replaceRunState struct {
	Identity ReplaceIdentity `json:"identity"`
	// Steps are the IDs of the run's plan.
	Steps    []string             `json:"steps"`
	Started  time.Time            `json:"started"`
	Finished map[string]time.Time `json:"finished"`
	// Completed is when the last step finished (zero while unfinished).
	Completed time.Time `json:"completed,omitzero"`
	// MemberID is the etcd member ID (hex) identify found for the node:
	// the one member remove-member removes, also after a crash, and never
	// the new member that joins later under the same name.
	MemberID string `json:"memberID,omitempty"`
	// NewMemberID is the etcd member ID (hex) the verify step found in the
	// replaced member's place (named Node for 2.4.2, NewNode for 2.4.1):
	// with MemberID, what lets a run started again after the state was
	// retired recognise that this replacement already finished
	// (runstate_finished.go).
	NewMemberID string `json:"newMemberID,omitempty"`
	// NewNode is the node of the re-created Machine (2.4.1).
	NewNode string `json:"newNode,omitempty"`
	// Release is the release step's decision, one line; Current says it
	// chose the current procedure (quorum guard toggled).
	Release string `json:"release,omitempty"`
	Current bool   `json:"current,omitempty"`
	// QuorumGuard is the quorum guard override as it was before the run
	// turned it off, recorded before the patch; nil while untouched. A
	// resumed or failing run restores exactly this.
	QuorumGuard *lifecycle.QuorumGuard `json:"quorumGuard,omitempty"`
	// RetiredTo is the ConfigMap the state was copied to when the run
	// finished or was abandoned; "" while it is the live state.
	RetiredTo string `json:"retiredTo,omitempty"`
	// Previous is where this run retired the state it found.
	Previous string `json:"previous,omitempty"`
}

// Done reports whether every step of the run finished.
func (d *replaceRunState) Done() bool {
	if !d.Completed.IsZero() {
		return true
	}
	if len(d.Steps) == 0 {
		return false
	}
	for _, id := range d.Steps {
		if _, ok := d.Finished[id]; !ok {
			return false
		}
	}
	return true
}

// progressed reports whether the run changed anything in the cluster: a
// step other than the read-only identify, check-quorum, check-backup and
// release finished.
func (d *replaceRunState) progressed() bool {
	for id := range d.Finished {
		if id != "identify" && id != "check-quorum" && id != "check-backup" && id != "release" {
			return true
		}
	}
	return false
}

// stateStore keeps a replaceRunState in a ConfigMap, written with the
// resourceVersion it read (a concurrent writer makes the write fail with a
// conflict instead of being overwritten).
type stateStore struct {
	kube      kubernetes.Interface
	namespace string
	name      string
	exists    bool   // the live ConfigMap exists
	rv        string // its resourceVersion as last read or written
}

func (s *stateStore) where() string { return s.namespace + "/" + s.name }

// load reads the live state; ok is false when there is none.
func (s *stateStore) load(ctx context.Context) (replaceRunState, bool, error) {
	cm, err := s.kube.CoreV1().ConfigMaps(s.namespace).Get(ctx, s.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		s.exists, s.rv = false, ""
		return replaceRunState{}, false, nil
	}
	if err != nil {
		return replaceRunState{}, false, fmt.Errorf("member: reading the replacement state %s: %w", s.where(), err)
	}
	s.exists, s.rv = true, cm.ResourceVersion
	d, err := decodeState(cm)
	if err != nil {
		return replaceRunState{}, false, fmt.Errorf("member: replacement state %s: %w", s.where(), err)
	}
	return d, true, nil
}

func decodeState(cm *corev1.ConfigMap) (replaceRunState, error) {
	var d replaceRunState
	if err := json.Unmarshal([]byte(cm.Data[stateConfigMapKey]), &d); err != nil {
		return replaceRunState{}, fmt.Errorf("key %s is not a valid state: %w", stateConfigMapKey, err)
	}
	if d.Finished == nil {
		d.Finished = map[string]time.Time{}
	}
	return d, nil
}

func stateConfigMap(namespace, name, label string, d replaceRunState) (*corev1.ConfigMap, error) {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, err
	}
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name,
			Labels: map[string]string{"app.kubernetes.io/managed-by": "lifeboat", labelReplacementState: label}},
		Data: map[string]string{stateConfigMapKey: string(b) + "\n"},
	}, nil
}

// save writes d as the live state, creating the ConfigMap when absent.
func (s *stateStore) save(ctx context.Context, d replaceRunState) error {
	cm, err := stateConfigMap(s.namespace, s.name, "live", d)
	if err != nil {
		return err
	}
	cms := s.kube.CoreV1().ConfigMaps(s.namespace)
	var out *corev1.ConfigMap
	if !s.exists {
		out, err = cms.Create(ctx, cm, metav1.CreateOptions{})
	} else {
		cm.ResourceVersion = s.rv
		out, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("member: saving the replacement state %s: %w", s.where(), err)
	}
	s.exists, s.rv = true, out.ResourceVersion
	return nil
}

// retiredName is the ConfigMap a state named name takes when retired for
// why at t: "lifeboat-member-replacement.finished-20261130-095501".
func retiredName(name, why string, t time.Time) string {
	return name + "." + why + "-" + t.UTC().Format("20060102-150405")
}

// newestRetired returns the newest finished state (by Completed) that
// was retired from this store for why with the identity want, and its
// ConfigMap's name ("" when there is none). Retired states of other
// StateConfigMaps, other identities and damaged records (audit only) are
// passed over.
func (s *stateStore) newestRetired(ctx context.Context, why string, want ReplaceIdentity) (replaceRunState, string, error) {
	cms, err := s.kube.CoreV1().ConfigMaps(s.namespace).List(ctx, metav1.ListOptions{LabelSelector: labelReplacementState + "=" + why})
	if err != nil {
		return replaceRunState{}, "", fmt.Errorf("member: listing the %s replacement states in %s: %w", why, s.namespace, err)
	}
	prefix := s.name + "." + why + "-" // retiredName's form
	var newest replaceRunState
	name := ""
	for i := range cms.Items {
		cm := &cms.Items[i]
		if !strings.HasPrefix(cm.Name, prefix) {
			continue
		}
		c, derr := decodeState(cm)
		if derr != nil || c.Identity != want || !c.Done() {
			continue
		}
		if name == "" || c.Completed.After(newest.Completed) {
			newest, name = c, cm.Name
		}
	}
	return newest, name, nil
}

// retire copies the live state d to a ConfigMap named for why and at
// (kept for audit), recording that name in the live state first, then
// deletes the live state, so that the next run starts fresh. An
// interrupted retire is finished at the name it recorded. It returns the
// retired ConfigMap's name.
func (s *stateStore) retire(ctx context.Context, d replaceRunState, why string, at time.Time) (string, error) {
	cms := s.kube.CoreV1().ConfigMaps(s.namespace)
	if d.RetiredTo == "" {
		base := retiredName(s.name, why, at)
		to := base
		for i := 2; ; i++ {
			_, err := cms.Get(ctx, to, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				break
			}
			if err != nil {
				return "", fmt.Errorf("member: retiring the replacement state %s: %w", s.where(), err)
			}
			if i > 100 {
				return "", fmt.Errorf("member: retiring the replacement state %s: no free name after %s", s.where(), to)
			}
			to = fmt.Sprintf("%s-%d", base, i)
		}
		d.RetiredTo = to
		if err := s.save(ctx, d); err != nil {
			return "", err
		}
	}
	cm, err := stateConfigMap(s.namespace, d.RetiredTo, why, d)
	if err != nil {
		return "", err
	}
	if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("member: retiring the replacement state %s to %s: %w", s.where(), d.RetiredTo, err)
	}
	if err := cms.Delete(ctx, s.name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return "", fmt.Errorf("member: retiring the replacement state %s (deleting it): %w", s.where(), err)
	}
	s.exists, s.rv = false, ""
	return d.RetiredTo, nil
}
