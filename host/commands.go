package host

import (
	"encoding/json"
	"fmt"
	"strings"
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
