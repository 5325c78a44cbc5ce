package host

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// execTransport runs shell lines with the local sh: the shell commands of
// the remote hosts without the remote part. Like a kubelet's exec stream
// or an SSH session, it signals nothing when ctx ends: it returns at once
// and leaves the line running, for the shell host to stop.
type execTransport struct{}

func (execTransport) runLine(ctx context.Context, line string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	cmd := exec.Command("sh", "-c", line)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	if err := cmd.Start(); err != nil {
		return -1, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
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
	h := &shellHost{name: "master-0", t: execTransport{}.runLine, log: slog.New(slog.DiscardHandler)}
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

func TestPIDFilter(t *testing.T) {
	tests := []struct {
		name    string
		writes  []string
		wantPID int
		wantOut string
	}{
		{name: "report then stderr", writes: []string{"lifeboat-pid 4242\noops\n"}, wantPID: 4242, wantOut: "oops\n"},
		{name: "split writes", writes: []string{"lifeboat-", "pid 17", "\nmore", " text"}, wantPID: 17, wantOut: "more text"},
		{name: "no report", writes: []string{"sudo: a password is required\n"}, wantOut: "sudo: a password is required\n"},
		{name: "long first line", writes: []string{strings.Repeat("x", 100), "\n"}, wantOut: strings.Repeat("x", 100) + "\n"},
		{name: "report only", writes: []string{"lifeboat-pid 9\n"}, wantPID: 9},
		{name: "short line without newline", writes: []string{"oops"}, wantOut: "oops"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			f := &pidFilter{w: &out}
			for _, w := range tt.writes {
				if n, err := f.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			f.flush()
			if f.get() != tt.wantPID || out.String() != tt.wantOut {
				t.Errorf("pid %d, stderr %q; want %d, %q", f.get(), out.String(), tt.wantPID, tt.wantOut)
			}
		})
	}
}
