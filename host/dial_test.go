package host

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// echoServer accepts connections on loopback and echoes what it reads.
func echoServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return l.Addr().String()
}

func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func roundTrip(t *testing.T, c net.Conn) {
	t.Helper()
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo = %q, %v", buf, err)
	}
}

func TestLocalDialContext(t *testing.T) {
	h := NewLocal("m0", t.TempDir(), LocalOptions{})
	c, err := h.DialContext(context.Background(), "tcp", echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c)
	if _, err := h.DialContext(context.Background(), "tcp", closedPort(t)); err == nil {
		t.Error("dial of a closed port succeeded")
	}
}

// TestSSHDialContext opens "direct-tcpip" channels through a real sshd: an
// address the server reaches is echoed; one nothing listens at is the
// server's rejection, returned as is without dropping the connection; a
// lost connection is redialled.
func TestSSHDialContext(t *testing.T) {
	d := startSSHD(t)
	ctx := context.Background()
	cfg := d.config(t)
	cfg.NoSudo = true
	h, err := NewSSH(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	echo := echoServer(t)

	c, err := h.DialContext(ctx, "tcp", echo)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c)

	h.mu.Lock()
	before := h.client
	h.mu.Unlock()
	_, err = h.DialContext(ctx, "tcp", closedPort(t))
	var rejected *ssh.OpenChannelError
	if !errors.As(err, &rejected) {
		t.Errorf("dial of a closed port = %v, want an *ssh.OpenChannelError", err)
	}
	h.mu.Lock()
	after := h.client
	h.mu.Unlock()
	if before != after {
		t.Error("a rejected channel dropped the connection")
	}

	// Drop the connection under the host: the next dial redials.
	h.mu.Lock()
	h.client.Close()
	h.mu.Unlock()
	c, err = h.DialContext(ctx, "tcp", echo)
	if err != nil {
		t.Fatalf("dial after a lost connection: %v", err)
	}
	roundTrip(t, c)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := h.DialContext(cctx, "tcp", echo); !errors.Is(err, context.Canceled) {
		t.Errorf("dial with a cancelled ctx = %v, want context.Canceled", err)
	}
}
