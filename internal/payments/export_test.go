package payments

// ReconcileCancelled is what order.cancelled runs, for tests that race it
// against the rounds.
var ReconcileCancelled = (*Service).reconcileCancelled
