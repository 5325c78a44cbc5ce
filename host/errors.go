package host

import (
	"fmt"
	"strings"
)

// ExitError is returned by Run when the command ran and exited non-zero.
type ExitError struct {
	Host   string
	Argv   []string
	Code   int
	Stderr []byte
}

func (e *ExitError) Error() string {
	msg := strings.TrimSpace(string(e.Stderr))
	if len(msg) > 512 {
		msg = msg[:512] + "..."
	}
	return fmt.Sprintf("host %s: %s: exit status %d: %s", e.Host, strings.Join(e.Argv, " "), e.Code, msg)
}
