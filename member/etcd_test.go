package member

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/clustertest"
	operatorfake "github.com/openshift/client-go/operator/clientset/versioned/fake"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func startEtcd(t *testing.T) (*clustertest.EtcdCluster, *clientv3.Client) {
	t.Helper()
	ec := clustertest.StartEtcd(t, clustertest.EtcdOptions{})
	cli, err := ec.Client(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return ec, cli
}

// TestMemberTableMatchesEtcdctl compares MemberTable with what the real
// etcdctl prints for the same cluster.
func TestMemberTableMatchesEtcdctl(t *testing.T) {
	bins, err := clustertest.FindBinaries()
	if err != nil {
		t.Skipf("etcdctl not built: %v", err)
	}
	ec, cli := startEtcd(t)
	tls := ec.ClientTLS()
	out, err := exec.CommandContext(t.Context(), bins.Etcdctl, "--endpoints", strings.Join(ec.Endpoints(), ","),
		"--cacert", tls.CAFile, "--cert", tls.CertFile, "--key", tls.KeyFile, "member", "list", "-w", "table").Output()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := cli.MemberList(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := MemberTable(resp.Members); got != string(out) {
		t.Fatalf("MemberTable:\n%s\netcdctl:\n%s", got, out)
	}
}

// TestRemoveMemberRealCluster runs RemoveMember's guard on three real
// members: a healthy member is refused, a killed one is removed, a second
// call is a no-op, and with the remaining two one more removal would lose
// quorum.
func TestRemoveMemberRealCluster(t *testing.T) {
	ec, cli := startEtcd(t)
	ctx := t.Context()
	opts := RemoveOptions{HealthTimeout: 2 * time.Second, Logger: quiet}
	m1, err := lookup(ctx, cli, "master-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RemoveMember(ctx, cli, m1.ID, opts); !errors.Is(err, ErrMemberHealthy) {
		t.Fatalf("removing a healthy member: err = %v, want ErrMemberHealthy", err)
	}

	if err := ec.Member("master-0").Kill(); err != nil {
		t.Fatal(err)
	}
	// With master-0 dead, removing healthy master-1 is refused twice over.
	if _, err := RemoveMember(ctx, cli, m1.ID, opts); !errors.Is(err, ErrMemberHealthy) {
		t.Fatalf("err = %v, want ErrMemberHealthy", err)
	}
	// Removing master-1 even when forced is checked by etcd itself; we do
	// not try it: it would lose quorum.

	m0, err := lookup(ctx, cli, "master-0")
	if err != nil {
		t.Fatal(err)
	}
	res, err := RemoveMember(ctx, cli, m0.ID, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Removed == nil || len(res.After) != 2 {
		t.Fatalf("result %+v", res)
	}
	t.Logf("before:\n%safter:\n%s", MemberTable(res.Before), MemberTable(res.After))
	again, err := RemoveMember(ctx, cli, m0.ID, opts)
	if err != nil || !again.AlreadyAbsent {
		t.Fatalf("second removal: %+v, %v", again, err)
	}

	// Two members left; kill master-2: quorum is lost and removal refused
	// with the error pointing to restore.
	if err := ec.Member("master-2").Kill(); err != nil {
		t.Fatal(err)
	}
	m2 := m1
	for _, m := range res.After {
		if m.Name == "master-2" {
			m2 = m
		}
	}
	_, err = RemoveMember(ctx, cli, m2.ID, opts)
	if !errors.Is(err, ErrQuorumLost) {
		t.Fatalf("err = %v, want ErrQuorumLost", err)
	}
	t.Log(err)
}

// TestFindUnhealthyMemberRealHealth uses newDialHealthChecker through the real
// client: a killed member is found, and with two killed the result is
// ErrQuorumLost.
func TestFindUnhealthyMemberRealHealth(t *testing.T) {
	ec, cli := startEtcd(t)
	ctx := t.Context()
	deps := Deps{Etcd: cli, Operator: operatorfake.NewClientset(etcdOperator("2 of 3 members are available, master-1 is unhealthy"))}
	opts := FindOptions{HealthTimeout: 2 * time.Second, Logger: quiet}
	if err := ec.Member("master-1").Kill(); err != nil {
		t.Fatal(err)
	}
	f, err := FindUnhealthyMember(ctx, deps, opts)
	if err != nil {
		t.Fatal(err)
	}
	if f.Member.Name != "master-1" || f.Disagreement != "" || f.State != Unknown {
		t.Fatalf("finding %+v", f)
	}
	t.Log(strings.Join(f.Evidence, "\n"))

	if err := ec.Member("master-2").Kill(); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = FindUnhealthyMember(cctx, deps, opts)
	if !errors.Is(err, ErrQuorumLost) {
		t.Fatalf("err = %v, want ErrQuorumLost", err)
	}
	t.Log(err)
}
