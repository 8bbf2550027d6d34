package redisconn

// OnProbe makes f receive the outcome of each background probe (true: Redis
// answered), so that tests wait for the probe instead of sleeping.
func (c *Conn) OnProbe(f func(up bool)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.probed = f
}
