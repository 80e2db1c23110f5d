package mirror

import "time"

// SetClock sets the store's clock (tests that pin stored bytes).
func SetClock(s *Store, now func() time.Time) { s.now = now }
