package host

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// crictlPS is the part of "crictl ps -o json" (a CRI ListContainersResponse
// in protobuf JSON) that Container needs.
type crictlPS struct {
	Containers []struct {
		ID       string `json:"id"`
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		State  string            `json:"state"`
		Labels map[string]string `json:"labels"`
	} `json:"containers"`
}

// parseCrictlPS turns "crictl ps -o json" output into Containers. The CRI
// state CONTAINER_RUNNING becomes "Running" (CONTAINER_EXITED "Exited", ...),
// as crictl's table shows it; the pod name comes from the kubelet's
// io.kubernetes.pod.name label.
func parseCrictlPS(out []byte) ([]Container, error) {
	if len(strings.TrimSpace(string(out))) == 0 {
		return nil, nil
	}
	var ps crictlPS
	if err := json.Unmarshal(out, &ps); err != nil {
		return nil, fmt.Errorf("parsing crictl ps output: %w", err)
	}
	cs := make([]Container, 0, len(ps.Containers))
	for _, c := range ps.Containers {
		cs = append(cs, Container{
			ID:    c.ID,
			Name:  c.Metadata.Name,
			Pod:   c.Labels["io.kubernetes.pod.name"],
			State: criState(c.State),
		})
	}
	return cs, nil
}

func criState(s string) string {
	s = strings.TrimPrefix(s, "CONTAINER_")
	if s == "" {
		return ""
	}
	return strings.ToUpper(s[:1]) + strings.ToLower(s[1:])
}

// Commands the runbook runs for the typed operations, shared by every
// implementation that runs commands.
var restartKubeletArgv = []string{"systemctl", "restart", "kubelet.service"}

func crictlArgv(name string) []string {
	if name == "" {
		return []string{"crictl", "ps", "-o", "json"}
	}
	// crictl's --name is a regular expression; quote it so name matches as
	// a plain substring, like the runbook's "grep etcd".
	return []string{"crictl", "ps", "--name", regexp.QuoteMeta(name), "-o", "json"}
}

// shutdownArgv is "shutdown -h +N": the delay in whole minutes, rounded up,
// at least one (the runbook's "shutdown -h 1").
func shutdownArgv(delay time.Duration) []string {
	minutes := int64((delay + time.Minute - 1) / time.Minute)
	if minutes < 1 {
		minutes = 1
	}
	return []string{"shutdown", "-h", fmt.Sprintf("+%d", minutes)}
}
