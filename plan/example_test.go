package plan_test

import (
	"context"
	"fmt"

	"github.com/lifeboat-dev/lifeboat/plan"
)

func ExamplePlan() {
	p := &plan.Plan{Name: "demo", Steps: []plan.Step{
		{ID: "move-manifest", Description: "move etcd-pod.yaml out of the manifest directory",
			Run: func(ctx context.Context, progress func(string)) error { return nil }},
		{ID: "move-data-dir", Description: "move /var/lib/etcd aside",
			Run: func(ctx context.Context, progress func(string)) error { return plan.Skip("already moved") }},
	}}
	fmt.Print(p.Describe()) // the dry run
	err := p.Run(context.Background(), plan.RunOptions{Report: func(e plan.Event) {
		if e.Status != plan.Started {
			fmt.Println(e)
		}
	}})
	fmt.Println("err:", err)
	// Output:
	// demo (2 steps)
	//   1. move-manifest                            move etcd-pod.yaml out of the manifest directory
	//   2. move-data-dir                            move /var/lib/etcd aside
	// [1/2] move-manifest done
	// [2/2] move-data-dir skipped: already moved
	// err: <nil>
}
