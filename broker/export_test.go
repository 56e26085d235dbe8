package broker

// Queued is how many calls wait for a flusher (tests only).
func (s *Sender) Queued() int { return len(s.in) }
