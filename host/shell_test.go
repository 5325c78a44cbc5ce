package host

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"testing"
)

// execTransport runs shell lines with the local sh: the shell commands of
// the remote hosts without the remote part.
type execTransport struct{}

func (execTransport) runLine(ctx context.Context, line string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	cmd := exec.CommandContext(ctx, "sh", "-c", line)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	killProcessGroup(cmd)
	err := cmd.Run()
	if ctx.Err() != nil {
		return -1, ctx.Err()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return -1, err
	}
	return 0, nil
}

func TestShellHostSuite(t *testing.T) {
	bin, log := fakeCommands(t)
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	h := &shellHost{name: "master-0", t: execTransport{}, log: slog.New(slog.DiscardHandler)}
	runHostSuite(t, h, t.TempDir(), log)
}

func TestLocalSuite(t *testing.T) {
	bin, log := fakeCommands(t)
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	runHostSuite(t, NewLocal("master-0", "/", LocalOptions{}), t.TempDir(), log)
}

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "''"},
		{"plain", "plain"},
		{"/var/lib/etcd", "/var/lib/etcd"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"$HOME", "'$HOME'"},
		{"new\nline", "'new\nline'"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := quote(tt.in); got != tt.want {
				t.Errorf("quote(%q) = %s, want %s", tt.in, got, tt.want)
			}
			out, err := exec.Command("sh", "-c", "printf %s "+quote(tt.in)).Output()
			if err != nil || string(out) != tt.in {
				t.Errorf("sh read %s as %q, %v", quote(tt.in), out, err)
			}
		})
	}
}
