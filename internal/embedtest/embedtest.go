// Package embedtest starts etcd members in the test process (etcd's
// embed package) on loopback ports, for the tests of packages that need
// a real member without the etcd binary.
package embedtest

import (
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// FreeURL returns http://127.0.0.1:<port> with a port that was free when
// it was picked. Another process may take it before it is bound: Start
// handles that.
func FreeURL(t testing.TB) url.URL {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return url.URL{Scheme: "http", Host: l.Addr().String()}
}

// startTries is how many times Start picks new ports.
const startTries = 3

// Start starts a single-member etcd from cfg (its Dir, Name and any other
// setting filled in by the caller) listening on free loopback ports: the
// client URL always, the peer URL too unless peer is given. The initial
// cluster is cfg.Name alone. A port picked free can be taken before etcd
// binds it (another test's server, an outgoing connection's source
// port); etcd then fails to listen and touches nothing in cfg.Dir, so a
// start failing with "address already in use" is tried again on new
// ports, up to 3 times. It waits up to ready for the member to serve
// (a deadline that catches a hang, not a benchmark). Any other failure
// fails t. It returns the member, its client URL and its peer URL; the
// caller closes the member.
func Start(t testing.TB, cfg *embed.Config, peer string, ready time.Duration) (*embed.Etcd, url.URL, url.URL) {
	t.Helper()
	var e *embed.Etcd
	var pu, cu url.URL
	for attempt := 1; ; attempt++ {
		pu = FreeURL(t)
		if peer != "" {
			u, err := url.Parse(peer)
			if err != nil {
				t.Fatal(err)
			}
			pu = *u
		}
		cu = FreeURL(t)
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{pu}, []url.URL{pu}
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{cu}, []url.URL{cu}
		cfg.InitialCluster = cfg.Name + "=" + pu.String()
		var err error
		e, err = embed.StartEtcd(cfg)
		if err == nil {
			break
		}
		if attempt < startTries && strings.Contains(err.Error(), "address already in use") {
			continue
		}
		t.Fatalf("starting etcd in %s: %v", cfg.Dir, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(ready):
		e.Close()
		t.Fatal("etcd did not become ready")
	}
	return e, cu, pu
}
