package orders

// Waiters is how many reservations wait for ticketID to reach the replica.
func Waiters(s *Service, ticketID string) int {
	s.arrivals.mu.Lock()
	defer s.arrivals.mu.Unlock()
	if w := s.arrivals.waiting[ticketID]; w != nil {
		return w.n
	}
	return 0
}
