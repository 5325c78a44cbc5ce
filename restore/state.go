package restore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sync"
	"time"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/lifecycle"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// Move is one file or directory the restore moved aside. Nothing the
// restore displaces is deleted: StateData.Moves lists the moves to put
// back.
type Move struct {
	Host string `json:"host"`
	From string `json:"from"`
	To   string `json:"to"`
	Step string `json:"step"`
	// Done is false while the move is only intended (recorded before it
	// is made, so a crash in between is resumed with the same destination).
	Done bool      `json:"done"`
	Time time.Time `json:"time"`
}

// BackupRecord is what the restore learned about its backup.
type BackupRecord struct {
	// Dir is the backup directory on the recovery host.
	Dir            string `json:"dir"`
	Snapshot       string `json:"snapshot"` // base names
	Archive        string `json:"archive"`
	SHA256         string `json:"sha256,omitempty"`
	Revision       int64  `json:"revision"`
	StorageVersion string `json:"storageVersion,omitempty"`
	ClusterVersion string `json:"clusterVersion,omitempty"`
	EtcdVersion    string `json:"etcdVersion,omitempty"`
}

// RestoreRecord is what the restore step did.
type RestoreRecord struct {
	Method       Method `json:"method"`
	Reason       string `json:"reason"`
	Member       string `json:"member"`
	PeerURL      string `json:"peerURL"`
	ClusterToken string `json:"clusterToken"`
	RevisionBump uint64 `json:"revisionBump"`
	NewRevision  int64  `json:"newRevision"`
}

// StateData is the JSON document kept on the recovery host.
type StateData struct {
	Plan    string    `json:"plan"`
	Started time.Time `json:"started"`
	// Identity is the run's identity, recorded by verify-backup; a Run
	// asking for another identity does not resume this state.
	Identity *RunIdentity `json:"identity,omitempty"`
	// Steps are the IDs of the run's plan, recorded by verify-backup.
	Steps    []string             `json:"steps,omitempty"`
	Finished map[string]time.Time `json:"finished"`
	// Completed is when the last of Steps finished (zero while the run is
	// unfinished).
	Completed time.Time `json:"completed,omitzero"`
	// RetiredTo is where the state file was renamed when the run finished
	// or was abandoned (kept for audit); "" while it is the live state.
	RetiredTo string `json:"retiredTo,omitempty"`
	// Previous is where the state of the run before this one on the host
	// was retired to by this run, when it found one.
	Previous string `json:"previous,omitempty"`
	Moves    []Move `json:"moves,omitempty"`
	// Release is the procedure generation decision verify-backup made and
	// reported; a resumed run reports it again.
	Release *ReleaseRecord `json:"release,omitempty"`
	Backup  *BackupRecord  `json:"backup,omitempty"`
	// Revisions are the backup's static pod revisions per component.
	Revisions map[string]int `json:"revisions,omitempty"`
	Restore   *RestoreRecord `json:"restore,omitempty"`
	// Rollouts holds, per operator, the latest revision before the forced
	// redeployment, for the wait after it.
	Rollouts map[string]int32 `json:"rollouts,omitempty"`
	// Redeploys holds, per operator, the forceRedeploymentReason recorded
	// before it was set, so a resumed run does not patch twice and waits
	// on the revision read before the patch.
	Redeploys map[string]lifecycle.RedeployRecord `json:"redeploys,omitempty"`
	// QuorumGuard is the etcd-only restore's record of the quorum guard,
	// written before the guard is turned off (see GuardRecord).
	QuorumGuard *GuardRecord `json:"quorumGuard,omitempty"`
	// Quorum is the quorum restore's record (RunQuorumRestore).
	Quorum *QuorumRecord `json:"quorum,omitempty"`
}

// state is the restore's plan.State, kept as a JSON file on the recovery
// host and rewritten atomically (host.Host.WriteFile) after every change.
type state struct {
	h    host.Host
	path string
	now  func() time.Time

	mu     sync.Mutex
	data   *StateData
	loaded bool
}

var _ plan.State = (*state)(nil)

// newState returns the state stored at statePath on h (defaultStatePath
// when empty). Nothing is read until first use.
func newState(h host.Host, statePath string) *state {
	if statePath == "" {
		statePath = defaultStatePath
	}
	return &state{h: h, path: statePath, now: time.Now}
}

// Path is where the state lives on the host.
func (s *state) Path() string { return s.path }

func (s *state) load(ctx context.Context) error {
	if s.loaded {
		return nil
	}
	b, err := s.h.ReadFile(ctx, s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.data = &StateData{Finished: map[string]time.Time{}}
	case err != nil:
		return fmt.Errorf("reading restore state %s on %s: %w", s.path, s.h.Name(), err)
	default:
		var d StateData
		if err := json.Unmarshal(b, &d); err != nil {
			return fmt.Errorf("restore state %s on %s is not valid JSON: %w", s.path, s.h.Name(), err)
		}
		if d.Finished == nil {
			d.Finished = map[string]time.Time{}
		}
		s.data = &d
	}
	s.loaded = true
	return nil
}

func (s *state) save(ctx context.Context) error {
	b, err := json.MarshalIndent(s.data, "", "  ")
	if err != nil {
		return err
	}
	if err := s.h.MkdirAll(ctx, path.Dir(s.path), 0o700); err != nil {
		return fmt.Errorf("saving restore state on %s: %w", s.h.Name(), err)
	}
	if err := s.h.WriteFile(ctx, s.path, bytes.NewReader(append(b, '\n')), 0o600); err != nil {
		return fmt.Errorf("saving restore state on %s: %w", s.h.Name(), err)
	}
	return nil
}

// Update applies fn to the state and saves it.
func (s *state) Update(ctx context.Context, fn func(d *StateData)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.load(ctx); err != nil {
		return err
	}
	fn(s.data)
	return s.save(ctx)
}

// Get returns a copy of the state.
func (s *state) Get(ctx context.Context) (StateData, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.load(ctx); err != nil {
		return StateData{}, err
	}
	d := *s.data
	d.Moves = append([]Move(nil), s.data.Moves...)
	return d, nil
}

// Finished implements plan.State. It reads the file afresh.
func (s *state) Finished(ctx context.Context) (map[string]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loaded = false
	if err := s.load(ctx); err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(s.data.Finished))
	for id := range s.data.Finished {
		out[id] = true
	}
	return out, nil
}

// MarkFinished implements plan.State. Marking the last of the recorded
// Steps also records the run as Completed, in the same write.
func (s *state) MarkFinished(ctx context.Context, id string) error {
	return s.Update(ctx, func(d *StateData) {
		now := s.now().UTC()
		d.Finished[id] = now
		if d.Completed.IsZero() && d.allStepsFinished() {
			d.Completed = now
		}
	})
}

func (d *StateData) allStepsFinished() bool {
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

// Done reports whether the run the state describes has finished: it is
// Completed, or (a state written before run identities) it recorded the
// final verify-members step.
func (d *StateData) Done() bool {
	if !d.Completed.IsZero() || d.allStepsFinished() {
		return true
	}
	_, verified := d.Finished["verify-members"]
	return len(d.Steps) == 0 && verified
}

// progressed reports whether the run changed anything: a step finished or
// a move was recorded.
func (d *StateData) progressed() bool {
	if len(d.Moves) > 0 {
		return true
	}
	for id := range d.Finished {
		if id != "verify-backup" {
			return true
		}
	}
	return false
}

// Undo lists, newest first, the moves to reverse to put every displaced
// file back where it was (mv To From on Host). It changes nothing.
func (s *state) Undo(ctx context.Context) ([]Move, error) {
	d, err := s.Get(ctx)
	if err != nil {
		return nil, err
	}
	var out []Move
	for _, m := range d.Moves {
		if m.Done {
			out = append(out, m)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}
