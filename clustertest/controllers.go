package clustertest

import "context"

// startControllers starts the simulated operators, machine API and node controllers.
func (c *Cluster) startControllers(ctx context.Context) error { return nil }
