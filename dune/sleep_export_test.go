package dune

import (
	"context"
	"time"
)

// SetSleepForTest replaces c's wait between attempts, so that the external
// tests (package dune_test) see the waits the retry schedule asks for and
// synchronise on them instead of on the wall clock.
func SetSleepForTest(c *Client, sleep func(context.Context, time.Duration) error) { c.sleep = sleep }
