package payments

// ReconcileCancelled is what order.cancelled runs, for tests that race it
// against the rounds.
var ReconcileCancelled = (*Service).reconcileCancelled

// StripeMock is the URL of a running stripe-mock (skipping the test
// without one, except in CI), for the service's tests.
var StripeMock = stripeMock

// StripeRecorder is a recording proxy in front of stripe-mock, for the
// service's tests of what it sends Stripe.
type (
	StripeRecorder = stripeRecorder
	StripeRequest  = stripeRequest
)

// NewStripeRecorder starts a StripeRecorder (skipping the test without
// stripe-mock, except in CI).
var NewStripeRecorder = newStripeRecorder
