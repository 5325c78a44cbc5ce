package etcdconn

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/errtest"
)

// TestNewRefusesMalformedEndpoints: an endpoint the client could only
// fail to reach (wrong scheme, no port, a path, spaces, a URL that does
// not parse) is refused at once with a *lifeboat.OptionsError naming
// Config.Endpoints or ETCDCTL_ENDPOINTS, instead of "unreachable" after
// the dial timeout; credentials in an endpoint are refused and never
// quoted.
func TestNewRefusesMalformedEndpoints(t *testing.T) {
	const secret = "SeCrEt"
	var cases []errtest.Option
	for _, ep := range []string{
		"https://user:" + secret + "@127.0.0.1:2379",
		"https://user:" + secret + "@[::1",
		"ftp://127.0.0.1:2379",
		"http://[::1",
		"127.0.0.1",
		":2379",
		"https://127.0.0.1:2379/v3/kv?x=1",
		"https://",
		"10.0.0.1\n:2379",
		"a b:2379",
	} {
		// A long dial timeout: a refusal must not wait for it.
		start := time.Now()
		_, err := New(t.Context(), Config{Endpoints: []string{ep}, DialTimeout: time.Minute})
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("New(%q) took %v", ep, d)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("New(%q): error %q quotes the credentials", ep, err)
		}
		cases = append(cases, errtest.Option{Name: ep, Err: err, Want: "etcdconn.Config.Endpoints"})
	}
	t.Setenv("ETCDCTL_ENDPOINTS", "https://10.0.0.1:2379,ftp://10.0.0.2:2379")
	_, envErr := FromEnv(t.Context())
	cases = append(cases, errtest.Option{Name: "env", Err: envErr, Want: "ETCDCTL_ENDPOINTS"})
	errtest.OptionNames(t, cases)

	// Well-formed endpoints pass (SkipCheck: nothing is contacted).
	for _, ep := range []string{"https://10.0.0.3:2379", "http://localhost:2379/", "10.0.0.3:2379", "[::1]:2379", "unix:///run/etcd.sock"} {
		c, err := New(context.Background(), Config{Endpoints: []string{ep}, SkipCheck: true})
		if err != nil {
			t.Errorf("New(%q) = %v", ep, err)
			continue
		}
		c.Close()
	}
}

// TestConfigErrorZeroValue: Error of a ConfigError without a Kind does
// not panic.
func TestConfigErrorZeroValue(t *testing.T) {
	if s := (&ConfigError{Setting: "Config.CAFile"}).Error(); !strings.Contains(s, "Config.CAFile") {
		t.Errorf("Error() = %q", s)
	}
}
