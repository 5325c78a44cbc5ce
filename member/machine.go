package member

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	machinev1beta1 "github.com/openshift/api/machine/v1beta1"
	machineclient "github.com/openshift/client-go/machine/clientset/versioned"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/yaml"

	"github.com/lifeboat-dev/lifeboat/internal/atomicfile"
	"github.com/lifeboat-dev/lifeboat/internal/opterr"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// Annotations RecreateMachine puts on the new Machine so that a second run
// finds it after the old one is gone.
const (
	annotationReplacesMachine = "lifeboat.dev/replaces-machine"
	annotationReplacesNode    = "lifeboat.dev/replaces-node"
)

// newMachineFile is the runbook's name for the edited Machine.
const newMachineFile = "new-master-machine.yaml"

// RecreateOptions configures RecreateMachine. The zero value works in
// openshift-machine-api, polls every 5 seconds, saves nothing to disk.
type RecreateOptions struct {
	Namespace string // "openshift-machine-api"
	// SaveDir, when set, receives <old-machine>.yaml (the Machine as it
	// was) and new-master-machine.yaml (the edited copy) before the old
	// Machine is deleted; a re-run that finds neither Machine creates the
	// new one from the saved file. Once the new Machine runs, the saved
	// file is renamed new-master-machine.done-<UTC time>.yaml (kept), so a
	// later replacement never takes a finished one's Machine for its own.
	SaveDir string
	// Interval between status reads while waiting; 5s when zero,
	// negative is invalid.
	Interval time.Duration
	// Logger receives what the step does; nil discards.
	Logger *slog.Logger
	// Now is the clock of the saved file's done-<UTC time> name; time.Now
	// when nil.
	Now func() time.Time
}

// now is opts.Now, or time.Now when nil.
func (o RecreateOptions) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}

// RecreateResult is what RecreateMachine did.
type RecreateResult struct {
	OldName string
	// Old is the Machine as it was, and OldYAML its YAML ("oc get machine
	// -o yaml > ..."); nil when a previous run already deleted it.
	Old     *machinev1beta1.Machine
	OldYAML []byte
	// New is the Machine created (as last read, phase Running), NewYAML the
	// edited manifest (new-master-machine.yaml).
	New     *machinev1beta1.Machine
	NewYAML []byte
	// NewNode is status.nodeRef.name of the new Machine, once set.
	NewNode string
	// Resumed: the old Machine was already gone.
	Resumed bool
}

// RecreateMachine deletes and re-creates the master Machine of node
// (runbook 2.4.1 step 3): it saves the Machine, builds the new one under
// the next free index of the same base name (master-0 -> master-3 when 1
// and 2 exist) without status, spec.providerID, annotations, generation,
// resourceVersion, uid, selfLink, creationTimestamp and managedFields,
// deletes the old Machine and waits until it is gone, creates the new one
// and waits for phase Running. Re-running it after a failure continues
// where it stopped. When no Machine points to node (the masters were not
// created with the Machine API) it returns a *NoMachineError saying what
// to do instead.
//
// On a cluster whose ControlPlaneMachineSet is Active (current releases on
// installer-provisioned infrastructure), the Machine is not re-created by
// hand: RecreateMachine deletes it, as "oc delete machine" in the current
// procedure, and waits for the Machine the set creates for the same index
// to be Running with a node; it annotates that Machine with what it
// replaces, so a resumed run adopts it. The machine's phase changes go to
// plan.ReportProgress (the calling step's Progress events, or
// plan.WithReport's report outside a plan).
func RecreateMachine(ctx context.Context, machines machineclient.Interface, node string, opts RecreateOptions) (*RecreateResult, error) {
	if machines == nil {
		return nil, opterr.Nil("member.RecreateMachine machines")
	}
	if node == "" {
		return nil, opterr.Nil("member.RecreateMachine node")
	}
	if err := opterr.Negative("member.RecreateOptions.Interval", opts.Interval); err != nil {
		return nil, err
	}
	if opts.Namespace == "" {
		opts.Namespace = machineNamespace
	}
	if opts.Interval <= 0 {
		opts.Interval = 5 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("member: re-creating the machine of node %s: %w", node, err)
	}
	mc := machines.MachineV1beta1().Machines(opts.Namespace)
	list, err := mc.List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("member: listing machines in %s: %w", opts.Namespace, err)
	}
	res := &RecreateResult{}
	var old, existingNew *machinev1beta1.Machine
	for i := range list.Items {
		m := &list.Items[i]
		if m.Status.NodeRef != nil && m.Status.NodeRef.Name == node && m.Annotations[annotationReplacesNode] != node {
			old = m
		}
		if m.Annotations[annotationReplacesNode] == node {
			existingNew = m
		}
	}

	active, err := activeControlPlaneMachineSet(ctx, machines, opts.Namespace)
	if err != nil {
		return nil, err
	}
	if active {
		return recreateThroughSet(ctx, machines, node, old, existingNew, opts, log, res)
	}

	var desired *machinev1beta1.Machine
	switch {
	case old != nil:
		res.OldName, res.Old = old.Name, old.DeepCopy()
		if res.OldYAML, err = machineYAML(old); err != nil {
			return nil, err
		}
		if existingNew == nil {
			desired = newMachineFrom(old, nextMachineName(old.Name, list.Items))
		} else {
			desired = existingNew
		}
	case existingNew != nil:
		res.Resumed, res.OldName = true, existingNew.Annotations[annotationReplacesMachine]
	default:
		saved, err := loadSaved(opts.SaveDir, node)
		if err != nil {
			return nil, err
		}
		if saved == nil {
			return nil, &NoMachineError{Node: node, Namespace: opts.Namespace}
		}
		res.Resumed, res.OldName, desired = true, saved.Annotations[annotationReplacesMachine], saved
	}
	if desired != nil {
		if res.NewYAML, err = machineYAML(desired); err != nil {
			return nil, err
		}
	}

	if old != nil {
		if opts.SaveDir != "" {
			if err := saveFiles(opts.SaveDir, old.Name, res.OldYAML, res.NewYAML); err != nil {
				return res, err
			}
		}
		plan.ReportProgress(ctx, fmt.Sprintf("deleting machine %s of node %s", old.Name, node))
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("member: deleting machine %s: %w", old.Name, err)
		}
		if err := mc.Delete(ctx, old.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return res, fmt.Errorf("member: deleting machine %s: %w", old.Name, err)
		}
		err := wait.PollUntilContextCancel(ctx, opts.Interval, true, func(ctx context.Context) (bool, error) {
			_, err := mc.Get(ctx, old.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return true, nil
			}
			plan.ReportProgress(ctx, fmt.Sprintf("waiting for machine %s to be deleted", old.Name))
			return false, err
		})
		if err != nil {
			return res, fmt.Errorf("member: waiting for machine %s to be deleted: %w", old.Name, err)
		}
	}
	newName := ""
	if existingNew != nil {
		newName = existingNew.Name
	} else {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("member: creating machine %s: %w", desired.Name, err)
		}
		created, err := mc.Create(ctx, desired, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			created, err = mc.Get(ctx, desired.Name, metav1.GetOptions{})
		}
		if err != nil {
			return res, fmt.Errorf("member: creating machine %s: %w", desired.Name, err)
		}
		newName = created.Name
		log.InfoContext(ctx, "created machine", "machine", newName, "replaces", res.OldName, "node", node)
	}

	lastPhase := "-"
	err = wait.PollUntilContextCancel(ctx, opts.Interval, true, func(ctx context.Context) (bool, error) {
		m, err := mc.Get(ctx, newName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		res.New = m
		phase := ""
		if m.Status.Phase != nil {
			phase = *m.Status.Phase
		}
		if phase != lastPhase {
			lastPhase = phase
			if phase == "" {
				phase = "created, no phase yet"
			}
			plan.ReportProgress(ctx, fmt.Sprintf("machine %s is %s", newName, phase))
		}
		if m.Status.Phase != nil && *m.Status.Phase == "Failed" {
			return false, fmt.Errorf("machine %s failed: %s", newName, deref(m.Status.ErrorMessage))
		}
		return m.Status.Phase != nil && *m.Status.Phase == "Running", nil
	})
	if err != nil {
		return res, fmt.Errorf("member: waiting for machine %s to be Running: %w", newName, err)
	}
	if err := retireSaved(opts.SaveDir, node, opts.now()); err != nil {
		return res, err
	}
	if res.New.Status.NodeRef != nil {
		res.NewNode = res.New.Status.NodeRef.Name
	}
	return res, nil
}

// newMachineFrom returns the Machine the runbook's edited
// new-master-machine.yaml describes: old renamed to name, without status,
// spec.providerID, annotations, generation, resourceVersion, uid, selfLink,
// creationTimestamp and managedFields, annotated with what it replaces.
func newMachineFrom(old *machinev1beta1.Machine, name string) *machinev1beta1.Machine {
	m := old.DeepCopy()
	m.TypeMeta = metav1.TypeMeta{APIVersion: "machine.openshift.io/v1beta1", Kind: "Machine"}
	m.Name = name
	m.Status = machinev1beta1.MachineStatus{}
	m.Spec.ProviderID = nil
	node := ""
	if old.Status.NodeRef != nil {
		node = old.Status.NodeRef.Name
	}
	m.Annotations = map[string]string{annotationReplacesMachine: old.Name, annotationReplacesNode: node}
	m.Generation = 0
	m.ResourceVersion = ""
	m.UID = ""
	m.SelfLink = ""
	m.CreationTimestamp = metav1.Time{}
	m.ManagedFields = nil
	m.DeletionTimestamp = nil
	m.DeletionGracePeriodSeconds = nil
	return m
}

var indexed = regexp.MustCompile(`^(.*)-(\d+)$`)

// nextMachineName keeps the base name and uses the next index after the
// highest one in use: clustername-8qw5l-master-0 -> ...-master-3 when 1
// and 2 exist.
func nextMachineName(old string, all []machinev1beta1.Machine) string {
	base, highest := old, -1
	if m := indexed.FindStringSubmatch(old); m != nil {
		base = m[1]
		highest, _ = strconv.Atoi(m[2])
	}
	taken := map[string]bool{}
	for _, o := range all {
		taken[o.Name] = true
		if m := indexed.FindStringSubmatch(o.Name); m != nil && m[1] == base {
			if n, err := strconv.Atoi(m[2]); err == nil && n > highest {
				highest = n
			}
		}
	}
	for n := highest + 1; ; n++ {
		if name := base + "-" + strconv.Itoa(n); !taken[name] {
			return name
		}
	}
}

func machineYAML(m *machinev1beta1.Machine) ([]byte, error) {
	c := m.DeepCopy()
	c.TypeMeta = metav1.TypeMeta{APIVersion: "machine.openshift.io/v1beta1", Kind: "Machine"}
	b, err := yaml.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("member: encoding machine %s: %w", m.Name, err)
	}
	var obj map[string]any
	if err := yaml.Unmarshal(b, &obj); err != nil {
		return nil, fmt.Errorf("member: encoding machine %s: %w", m.Name, err)
	}
	if st, ok := obj["status"].(map[string]any); ok && len(st) == 0 {
		delete(obj, "status") // the runbook removes the entire status section
		if b, err = yaml.Marshal(obj); err != nil {
			return nil, fmt.Errorf("member: encoding machine %s: %w", m.Name, err)
		}
	}
	return b, nil
}

func saveFiles(dir, oldName string, oldYAML, newYAML []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("member: saving machines: %w", err)
	}
	for name, data := range map[string][]byte{oldName + ".yaml": oldYAML, newMachineFile: newYAML} {
		if err := atomicfile.WriteFile(filepath.Join(dir, name), bytes.NewReader(data), 0o600); err != nil {
			return fmt.Errorf("member: saving %s: %w", name, err)
		}
	}
	return nil
}

func loadSaved(dir, node string) (*machinev1beta1.Machine, error) {
	if dir == "" {
		return nil, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, newMachineFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("member: reading saved machine: %w", err)
	}
	m := &machinev1beta1.Machine{}
	if err := yaml.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("member: decoding %s: %w", newMachineFile, err)
	}
	if m.Annotations[annotationReplacesNode] != node {
		return nil, nil
	}
	return m, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// retireSaved renames the saved new-master-machine.yaml of node's finished
// replacement to new-master-machine.done-<UTC time>.yaml, so that no later
// run resumes from it. A file of another node, or none, is left alone.
func retireSaved(dir, node string, now time.Time) error {
	if dir == "" {
		return nil
	}
	saved, err := loadSaved(dir, node)
	if err != nil || saved == nil {
		return err
	}
	ext := filepath.Ext(newMachineFile)
	to := filepath.Join(dir, strings.TrimSuffix(newMachineFile, ext)+".done-"+now.UTC().Format("20060102T150405Z")+ext)
	for i := 1; ; i++ {
		if _, err := os.Stat(to); errors.Is(err, os.ErrNotExist) {
			break
		}
		to = filepath.Join(dir, strings.TrimSuffix(newMachineFile, ext)+".done-"+now.UTC().Format("20060102T150405Z")+fmt.Sprintf(".%d", i)+ext)
	}
	if err := os.Rename(filepath.Join(dir, newMachineFile), to); err != nil {
		return fmt.Errorf("member: retiring the finished replacement's %s: %w", newMachineFile, err)
	}
	return nil
}
