package emulator

import "time"

// WithClock sets the emulator's clock (default time.Now). Executions started
// with POST /api/v1/query/{id}/execute follow their query's Profile on this
// clock, and AddExecution dates executions by it, so a test can drive an
// execution through its states without sleeping. now must be safe for
// concurrent use.
func WithClock(now func() time.Time) Option { return func(c *config) { c.clock = now } }

// now reads the emulator's clock.
func (s *Server) now() time.Time {
	if s.cfg.clock != nil {
		return s.cfg.clock()
	}
	return time.Now()
}
