package payments

// ReconcileCancelled is what order.cancelled runs, for tests that race it
// against the rounds.
var ReconcileCancelled = (*Service).reconcileCancelled

// StripeMock is the URL of a stripe-mock for this test (stripe_test.go).
var StripeMock = stripeMock
