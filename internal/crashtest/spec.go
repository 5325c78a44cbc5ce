package crashtest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// SpecEnv names the environment variable holding the path of the child's
// Spec (JSON). Its absence makes TestCrashHelper skip.
const SpecEnv = "LIFEBOAT_CRASH_SPEC"

// Spec is what a child needs to reach the cluster and run a plan.
type Spec struct {
	// Kubeconfig is the admin kubeconfig of the cluster.
	Kubeconfig string `json:"kubeconfig"`
	// RuntimeURL is the parent's ServeRuntime address.
	RuntimeURL string `json:"runtimeURL"`
	// Hosts are the cluster's hosts the plan may touch, by node name.
	Hosts []HostSpec `json:"hosts"`
	// Etcd reaches the etcd members (member plans).
	Etcd EtcdSpec `json:"etcd"`

	// KillStep is the step ID inside which the child kills itself; ""
	// runs the plan to its end.
	KillStep string `json:"killStep,omitempty"`
	// KillAt is PointFirst (the default) or PointLast.
	KillAt Point `json:"killAt,omitempty"`
	// StateHost and StatePath locate the plan state (restore), so that the
	// write recording KillStep as finished is a kill point.
	StateHost string `json:"stateHost,omitempty"`
	StatePath string `json:"statePath,omitempty"`
	// Marker is the file the child writes the kill point to before it
	// kills itself.
	Marker string `json:"marker"`

	// Params are the plan's own options, as the test defines them.
	Params json.RawMessage `json:"params,omitempty"`
}

// Point chooses where in its step the child dies.
type Point string

const (
	// PointFirst is the step's first work point (see the package
	// documentation): the step has done part of its work, or none.
	PointFirst Point = "first"
	// PointLast is the step's end: the state write that would record it as
	// finished (restore), or its Done/Skipped event (a plan without
	// state): the step did all its work and no record of it survives.
	PointLast Point = "last"
)

// HostSpec is one host: its node name and the directory standing for its
// "/".
type HostSpec struct {
	Name string `json:"name"`
	Root string `json:"root"`
}

// EtcdSpec reaches the etcd members over TLS.
type EtcdSpec struct {
	Endpoints []string `json:"endpoints,omitempty"`
	CAFile    string   `json:"caFile,omitempty"`
	CertFile  string   `json:"certFile,omitempty"`
	KeyFile   string   `json:"keyFile,omitempty"`
}

// write stores the spec as dir/spec-<n>.json and returns its path.
func (s Spec) write(dir, name string) (string, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return "", fmt.Errorf("crashtest: encoding spec: %w", err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		return "", fmt.Errorf("crashtest: writing spec: %w", err)
	}
	return p, nil
}

func readSpec(p string) (Spec, error) {
	var s Spec
	b, err := os.ReadFile(p)
	if err != nil {
		return s, fmt.Errorf("crashtest: reading spec: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("crashtest: spec %s: %w", p, err)
	}
	return s, nil
}
