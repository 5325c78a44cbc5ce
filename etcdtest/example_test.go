package etcdtest_test

import (
	"context"
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/lifeboat-dev/lifeboat/etcdtest"
	"github.com/lifeboat-dev/lifeboat/member"
)

// A three-member cluster with one member down, as member.RemoveMember
// sees it through the fake: the unhealthy member is removed, a healthy
// one is refused.
func ExampleNewCluster() {
	ctx := context.Background()
	etcd := etcdtest.NewCluster("master-0", "master-1", "master-2").Down("master-0")
	opts := member.RemoveOptions{Health: etcd}

	_, err := member.RemoveMember(ctx, etcd, etcd.Member("master-1").ID, opts)
	fmt.Println(errors.Is(err, member.ErrMemberHealthy))

	res, err := member.RemoveMember(ctx, etcd, etcd.Member("master-0").ID, opts)
	fmt.Println(res.Removed.Name, err, fmt.Sprintf("%x", etcd.Removed()))
	// Output:
	// true
	// master-0 <nil> [1000]
}

// One call fails, the rest stay as the cluster has them: the removal is
// refused by the server.
func ExampleWrap() {
	ctx := context.Background()
	c := etcdtest.NewCluster("master-0", "master-1", "master-2").Down("master-0")
	etcd := etcdtest.Wrap(c, etcdtest.Funcs{
		MemberRemove: func(context.Context, etcdtest.Client, uint64) (*clientv3.MemberRemoveResponse, error) {
			return nil, errors.New("etcdserver: unhealthy cluster")
		},
	})
	_, err := member.RemoveMember(ctx, etcd, c.Member("master-0").ID, member.RemoveOptions{Health: etcd})
	fmt.Println(err != nil, len(c.Members()))
	// Output:
	// true 3
}
