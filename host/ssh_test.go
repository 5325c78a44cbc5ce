package host

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshdPath is Debian's openssh-server daemon.
const sshdPath = "/usr/sbin/sshd"

// testSSHD is a real sshd listening on a loopback port, accepting the
// current user with a generated key.
type testSSHD struct {
	Addr       string
	HostKey    ssh.PublicKey
	UserSigner ssh.Signer
	UserKey    string // path of the user's private key (OpenSSH PEM)
	KnownHosts string // known_hosts file listing Addr with HostKey
	User       string
	Bin, Log   string // fake commands first on the session PATH, their log
}

func newEd25519(t *testing.T) (ssh.Signer, []byte) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return signer, pem.EncodeToMemory(block)
}

// requireSSHD skips the test when sshd is not installed (fails instead
// when LIFEBOAT_REQUIRE_SSHD=1, as CI sets), makes the privilege
// separation directory sshd started as root wants (Debian's service unit
// normally creates it), and returns the user sshd will accept.
func requireSSHD(t *testing.T) *user.User {
	t.Helper()
	if _, err := os.Stat(sshdPath); err != nil {
		msg := fmt.Sprintf("%s not installed (Debian: apt-get install openssh-server): %v", sshdPath, err)
		if os.Getenv("LIFEBOAT_REQUIRE_SSHD") == "1" {
			t.Fatal(msg + "; LIFEBOAT_REQUIRE_SSHD=1 requires it")
		}
		t.Skip(msg)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if u.Uid == "0" {
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return u
}

// startSSHD starts sshd for the test, or skips when it is not installed
// (fails instead when LIFEBOAT_REQUIRE_SSHD=1, as CI sets).
func startSSHD(t *testing.T) *testSSHD {
	t.Helper()
	u := requireSSHD(t)
	dir := t.TempDir()
	hostSigner, hostPEM := newEd25519(t)
	userSigner, userPEM := newEd25519(t)
	files := map[string][]byte{
		"host_key":        hostPEM,
		"user_key":        userPEM,
		"authorized_keys": ssh.MarshalAuthorizedKey(userSigner.PublicKey()),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	bin, log := fakeCommands(t)
	addr := runSSHD(t, dir, func(port string) string {
		return strings.Join([]string{
			"Port " + port,
			"ListenAddress 127.0.0.1",
			"HostKey " + filepath.Join(dir, "host_key"),
			"PidFile " + filepath.Join(dir, "sshd.pid"),
			"AuthorizedKeysFile " + filepath.Join(dir, "authorized_keys"),
			"StrictModes no",
			"PermitRootLogin yes",
			"UsePAM no",
			"PasswordAuthentication no",
			"KbdInteractiveAuthentication no",
			"PubkeyAuthentication yes",
			"AllowUsers " + u.Username,
			// SHLVL=1: sshd runs every command through the user's login shell,
			// and Debian's bash, run by sshd at shell level 1, sources the
			// user's ~/.bashrc first (SSH_SOURCE_BASHRC), whatever it does
			// (pyenv, nvm: seconds per command on a busy machine). At level 2
			// it does not, so the suite does not depend on the dotfiles of
			// whoever runs it. The commands themselves run unchanged.
			"SetEnv PATH=" + bin + ":/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin SHLVL=1",
			"LogLevel VERBOSE",
			"",
		}, "\n")
	})
	kh := filepath.Join(dir, "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(addr)}, hostSigner.PublicKey())
	if err := os.WriteFile(kh, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &testSSHD{
		Addr: addr, HostKey: hostSigner.PublicKey(), UserSigner: userSigner,
		UserKey: filepath.Join(dir, "user_key"), KnownHosts: kh, User: u.Username,
		Bin: bin, Log: log,
	}
}

// sshdAttempts is how many ports runSSHD tries: a port picked free can
// be taken (by another test's server, or as the source port of an
// outgoing connection) before sshd binds it, on a busy machine.
const sshdAttempts = 3

// runSSHD starts sshd in the foreground with the config that config
// returns for a port, on a loopback port picked free, and returns its
// address once sshd itself says it listens there ("Server listening on"
// in its log: a successful dial could reach whoever took the port). When
// sshd exits first because the port was taken, it starts again on
// another port, up to sshdAttempts times; any other exit fails the test
// with sshd's log. sshd is killed when the test ends.
func runSSHD(t *testing.T, dir string, config func(port string) string) string {
	t.Helper()
	return runSSHDOn(t, dir, pickLoopbackPort, config)
}

// pickLoopbackPort returns a loopback port that was free a moment ago.
func pickLoopbackPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// runSSHDOn is runSSHD with the port picker given (a test makes it
// return a taken port).
func runSSHDOn(t *testing.T, dir string, pick func(*testing.T) string, config func(port string) string) string {
	t.Helper()
	for attempt := 1; ; attempt++ {
		addr, lost := trySSHD(t, dir, attempt, pick(t), config)
		if !lost {
			return addr
		}
		if attempt == sshdAttempts {
			t.Fatalf("sshd lost its picked port %d times in a row", sshdAttempts)
		}
		t.Logf("sshd: port %s was taken before sshd bound it; trying another", addr)
	}
}

// trySSHD is one attempt of runSSHD: the address and whether sshd lost
// the port (it then exited, and nothing is left running).
func trySSHD(t *testing.T, dir string, attempt int, port string, config func(port string) string) (addr string, lost bool) {
	t.Helper()
	addr = net.JoinHostPort("127.0.0.1", port)
	configPath := filepath.Join(dir, fmt.Sprintf("sshd_config.%d", attempt))
	if err := os.WriteFile(configPath, []byte(config(port)), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, fmt.Sprintf("sshd.%d.log", attempt))
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(sshdPath, "-D", "-e", "-f", configPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	listening := "Server listening on 127.0.0.1 port " + port
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(logPath)
		if strings.Contains(string(b), listening) {
			break
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(logPath)
			if strings.Contains(string(b), "Address already in use") {
				return addr, true
			}
			t.Fatalf("sshd exited: %s", b)
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			t.Fatalf("sshd did not say it listens on %s within 30s; its log:\n%s", addr, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("sshd log:\n%s", b)
		}
	})
	return addr, false
}

func (d *testSSHD) config(t *testing.T) SSHConfig {
	t.Helper()
	cb, err := KnownHosts(d.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	return SSHConfig{Name: "master-0", Addr: d.Addr, User: d.User, KeyFile: d.UserKey, HostKeyCallback: cb, DialTimeout: 30 * time.Second}
}

func TestSSHSuite(t *testing.T) {
	d := startSSHD(t)
	ctx := context.Background()
	// Commands go through "sudo -n": the fake sudo on the session's PATH
	// records it and runs the rest.
	h, err := NewSSH(ctx, d.config(t))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	runHostSuite(t, h, t.TempDir(), d.Log)

	calls(t, d.Log)
	if _, err := h.Run(ctx, nil, "true"); err != nil {
		t.Fatal(err)
	}
	if got := calls(t, d.Log); len(got) != 1 || !strings.HasPrefix(got[0], "sudo -n sh -c ") || !strings.Contains(got[0], "(true)") || !strings.Contains(got[0], exitTrailer) {
		t.Errorf("commands = %q, want one sudo -n sh -c '...' running (true) in the wrapper that writes the %s trailer", got, exitTrailer)
	}

	cfg := d.config(t)
	cfg.NoSudo = true
	cfg.KeyFile, cfg.Signer = "", d.UserSigner
	direct, err := NewSSH(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	if out, err := direct.Run(ctx, nil, "echo", "direct"); err != nil || string(out) != "direct\n" {
		t.Fatalf("Run without sudo = %q, %v", out, err)
	}
	if got := calls(t, d.Log); len(got) != 0 {
		t.Errorf("NoSudo ran %q", got)
	}
}

func TestSSHRefusesHostKey(t *testing.T) {
	d := startSSHD(t)
	dir := t.TempDir()
	other, _ := newEd25519(t)
	tests := []struct {
		name         string
		knownHosts   string
		wantMismatch bool
	}{
		{name: "unknown host", knownHosts: knownhosts.Line([]string{"[127.0.0.1]:1"}, d.HostKey) + "\n"},
		{name: "empty known_hosts", knownHosts: ""},
		{name: "other key for the host", knownHosts: knownhosts.Line([]string{knownhosts.Normalize(d.Addr)}, other.PublicKey()) + "\n", wantMismatch: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kh := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_"))
			if err := os.WriteFile(kh, []byte(tt.knownHosts), 0o600); err != nil {
				t.Fatal(err)
			}
			cb, err := KnownHosts(kh)
			if err != nil {
				t.Fatal(err)
			}
			cfg := d.config(t)
			cfg.HostKeyCallback = cb
			h, err := NewSSH(context.Background(), cfg)
			if err == nil {
				h.Close()
				t.Fatal("NewSSH accepted a host key not in known_hosts")
			}
			var hk *HostKeyError
			if !errors.As(err, &hk) {
				t.Fatalf("err = %v (%T), want *HostKeyError", err, err)
			}
			if hk.Mismatch != tt.wantMismatch || hk.Fingerprint != ssh.FingerprintSHA256(d.HostKey) {
				t.Errorf("HostKeyError = %+v", hk)
			}
			t.Log(err)
		})
	}
	t.Run("no callback", func(t *testing.T) {
		cfg := d.config(t)
		cfg.HostKeyCallback = nil
		if _, err := NewSSH(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "host.SSHConfig.HostKeyCallback: is required") {
			t.Errorf("NewSSH without HostKeyCallback = %v", err)
		}
	})
	t.Run("wrong user key", func(t *testing.T) {
		cfg := d.config(t)
		cfg.KeyFile, cfg.Signer = "", other
		if _, err := NewSSH(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
			t.Errorf("NewSSH with an unauthorized key = %v", err)
		}
	})
}

func TestSSHReconnectsAndCloses(t *testing.T) {
	d := startSSHD(t)
	ctx := context.Background()
	cfg := d.config(t)
	cfg.NoSudo = true
	h, err := NewSSH(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Drop the connection under the host: the next operation redials.
	h.mu.Lock()
	h.client.Close()
	h.mu.Unlock()
	if out, err := h.Run(ctx, nil, "echo", "again"); err != nil || string(out) != "again\n" {
		t.Fatalf("Run after a lost connection = %q, %v", out, err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Run(ctx, nil, "true"); err == nil {
		t.Error("Run after Close succeeded")
	}
}

func TestSSHDialHonoursContext(t *testing.T) {
	// A listener that accepts and never speaks: the handshake hangs until
	// ctx ends.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	signer, _ := newEd25519(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = NewSSH(ctx, SSHConfig{Addr: l.Addr().String(), Signer: signer, HostKeyCallback: ssh.InsecureIgnoreHostKey()})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("NewSSH = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("NewSSH returned after %v", d)
	}
}

// TestSSHSessionHonoursContext: a server that completes the handshake but
// never answers a session request must not hold the caller past ctx; the
// next operation redials.
func TestSSHSessionHonoursContext(t *testing.T) {
	hostKey, _ := newEd25519(t)
	srv := &ssh.ServerConfig{NoClientAuth: true}
	srv.AddHostKey(hostKey)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, chans, reqs, err := ssh.NewServerConn(c, srv)
				if err != nil {
					return
				}
				go ssh.DiscardRequests(reqs)
				for range chans { // channel requests are never answered
				}
			}()
		}
	}()
	signer, _ := newEd25519(t)
	h, err := NewSSH(t.Context(), SSHConfig{Addr: l.Addr().String(), Signer: signer, HostKeyCallback: ssh.InsecureIgnoreHostKey(), NoSudo: true})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for i := range 2 { // the second call redials and hangs again
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		start := time.Now()
		_, err = h.Run(ctx, nil, "true")
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("call %d: Run = %v, want context.DeadlineExceeded", i, err)
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("call %d: Run returned after %v", i, d)
		}
	}
}

// TestSSHDStartRetriesTakenPort: the test sshd whose picked port was
// taken before it bound it starts again on another port (the kind: a
// server started on a port picked earlier can lose it on a busy machine),
// and the address returned is sshd's own, not the taker's.
func TestSSHDStartRetriesTakenPort(t *testing.T) {
	requireSSHD(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	_, takenPort, _ := net.SplitHostPort(taken.Addr().String())
	dir := t.TempDir()
	_, hostPEM := newEd25519(t)
	if err := os.WriteFile(filepath.Join(dir, "host_key"), hostPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	picks := 0
	pick := func(t *testing.T) string {
		picks++
		if picks == 1 {
			return takenPort
		}
		return pickLoopbackPort(t)
	}
	addr := runSSHDOn(t, dir, pick, func(port string) string {
		return strings.Join([]string{"Port " + port, "ListenAddress 127.0.0.1",
			"HostKey " + filepath.Join(dir, "host_key"), "PidFile " + filepath.Join(dir, "sshd.pid"),
			"UsePAM no", "LogLevel VERBOSE", ""}, "\n")
	})
	if picks != 2 || addr == taken.Addr().String() {
		t.Fatalf("sshd at %s after %d picks, want a second port after the taken %s", addr, picks, takenPort)
	}
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	banner := make([]byte, 8)
	if _, err := io.ReadFull(c, banner); err != nil || string(banner) != "SSH-2.0-" {
		t.Fatalf("%s answered %q, %v; want sshd's banner", addr, banner, err)
	}
}
