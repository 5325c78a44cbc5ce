//go:build !lifeboat_c2wip

package clustertest

import "context"

// startControllers starts the simulated operators, machine API and node controllers.
func (c *Cluster) startControllers(ctx context.Context) error { return nil }

// waitControllers waits for the controllers started by startControllers.
func (c *Cluster) waitControllers() {}
