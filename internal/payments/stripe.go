package payments

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v85"
	"github.com/ticketing/ticketing/internal/platform/fault"
)

// stripeProvider charges through Stripe's PaymentIntents API.
type stripeProvider struct {
	sc *stripe.Client
}

// NewStripe returns the Stripe provider for secretKey. apiBase "" is the
// real Stripe API; anything else (stripe-mock's URL in tests) replaces it.
func NewStripe(secretKey, apiBase string) Provider {
	cfg := &stripe.BackendConfig{
		// Every request carries an idempotency key, so stripe-go's own
		// retries of network failures cannot charge twice.
		MaxNetworkRetries: stripe.Int64(2),
		HTTPClient:        &http.Client{Timeout: 30 * time.Second},
		// Errors are returned to the service, which decides what to log.
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull},
	}
	if apiBase != "" {
		cfg.URL = stripe.String(strings.TrimRight(apiBase, "/"))
	}
	return &stripeProvider{sc: stripe.NewClient(secretKey, stripe.WithBackends(stripe.NewBackendsWithConfig(cfg)))}
}

func (p *stripeProvider) Name() string { return "stripe" }

// Charge creates and confirms a PaymentIntent at once.
func (p *stripeProvider) Charge(ctx context.Context, req ChargeRequest) (Charge, error) {
	pi, err := p.confirmIntent(ctx, req)
	if err != nil {
		return Charge{}, err
	}
	return intentResult(pi)
}

// confirmIntent sends the charge and returns Stripe's PaymentIntent as is.
//
// A payment method id (pm_...) is used directly. A card token (tok_...) is
// first turned into a payment method: the PaymentIntents API takes no raw
// card token (payment_method_data has no card), which is also Stripe's
// documented migration path from tokens. That request carries an
// idempotency key of its own derived from the charge's, so a replay gets
// the same payment method back although tokens are single-use.
func (p *stripeProvider) confirmIntent(ctx context.Context, req ChargeRequest) (*stripe.PaymentIntent, error) {
	pm := req.Token
	switch {
	case strings.HasPrefix(req.Token, "pm_"):
	case strings.HasPrefix(req.Token, "tok_"):
		params := &stripe.PaymentMethodCreateParams{
			Type: stripe.String(string(stripe.PaymentMethodTypeCard)),
			Card: &stripe.PaymentMethodCreateCardParams{Token: stripe.String(req.Token)},
		}
		params.Context = ctx
		if req.IdempotencyKey != "" {
			params.SetIdempotencyKey(req.IdempotencyKey + "-pm")
		}
		m, err := p.sc.V1PaymentMethods.Create(ctx, params)
		if err != nil {
			return nil, stripeError("create payment method", err)
		}
		pm = m.ID
	default:
		return nil, &fault.Error{Kind: fault.Invalid, Field: "token", Message: "Invalid card token"}
	}
	params := &stripe.PaymentIntentCreateParams{
		Amount:        stripe.Int64(int64(req.Amount)),
		Currency:      stripe.String(req.Currency),
		PaymentMethod: stripe.String(pm),
		Confirm:       stripe.Bool(true),
		// Cards only: no redirect-based method, hence no return_url, and a
		// card that needs 3-D Secure fails at once instead of leaving a
		// PaymentIntent waiting for an action nobody can take here.
		PaymentMethodTypes:    []*string{stripe.String("card")},
		ErrorOnRequiresAction: stripe.Bool(true),
	}
	if req.OrderID != "" {
		params.AddMetadata("order_id", req.OrderID)
	}
	if req.IdempotencyKey != "" {
		params.SetIdempotencyKey(req.IdempotencyKey)
	}
	pi, err := p.sc.V1PaymentIntents.Create(ctx, params)
	if err != nil {
		return nil, stripeError("create payment intent", err)
	}
	return pi, nil
}

// intentResult reads a confirmed PaymentIntent: succeeded (or processing,
// which for cards ends in succeeded) is a charge; one back to
// requires_payment_method was declined, with Stripe's reason.
func intentResult(pi *stripe.PaymentIntent) (Charge, error) {
	switch pi.Status {
	case stripe.PaymentIntentStatusSucceeded, stripe.PaymentIntentStatusProcessing:
		return Charge{ID: pi.ID}, nil
	case stripe.PaymentIntentStatusRequiresPaymentMethod, stripe.PaymentIntentStatusCanceled,
		stripe.PaymentIntentStatusRequiresAction:
		msg := "Your card was declined."
		if pi.LastPaymentError != nil && pi.LastPaymentError.Msg != "" {
			msg = pi.LastPaymentError.Msg
		}
		return Charge{}, fault.New(fault.Declined, msg)
	}
	return Charge{}, fmt.Errorf("stripe: payment intent %s is %s after confirmation", pi.ID, pi.Status)
}

// Refund refunds a whole PaymentIntent.
func (p *stripeProvider) Refund(ctx context.Context, req RefundRequest) error {
	params := &stripe.RefundCreateParams{PaymentIntent: stripe.String(req.ChargeID)}
	params.Context = ctx
	if req.IdempotencyKey != "" {
		params.SetIdempotencyKey(req.IdempotencyKey)
	}
	if _, err := p.sc.V1Refunds.Create(ctx, params); err != nil {
		return stripeError("create refund", err)
	}
	return nil
}

// stripeError sorts a Stripe error into the outcomes Provider promises:
// card errors are declines (Stripe's message is meant for the buyer);
// invalid requests (400, 404) charged nothing; an already refunded charge
// is ErrAlreadyRefunded; anything else (network, 409 key in use, 429,
// 5xx, bad API key) leaves the outcome unknown.
func stripeError(op string, err error) error {
	var se *stripe.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("stripe: %s: %w", op, err)
	}
	switch {
	case se.Code == stripe.ErrorCodeChargeAlreadyRefunded:
		return ErrAlreadyRefunded
	case se.Type == stripe.ErrorTypeCard:
		msg := se.Msg
		if msg == "" {
			msg = "Your card was declined."
		}
		return fault.New(fault.Declined, msg)
	case se.Type == stripe.ErrorTypeInvalidRequest &&
		(se.HTTPStatusCode == http.StatusBadRequest || se.HTTPStatusCode == http.StatusNotFound):
		fe := &fault.Error{Kind: fault.Invalid, Message: se.Msg}
		if strings.HasPrefix(se.Param, "payment_method") || strings.HasPrefix(se.Param, "card") {
			fe.Field = "token"
		}
		if fe.Message == "" {
			fe.Message = "The payment was refused"
		}
		return fe
	}
	return fmt.Errorf("stripe: %s: %s (status %d, code %s, request %s)", op, se.Msg, se.HTTPStatusCode, se.Code, se.RequestID)
}

// Transfer pays out to a connected account with a Stripe Transfer whose
// source is the order's charge (source_transaction: Stripe takes it from
// that charge's funds once they are available) and whose group is the
// order id. The payment's stripe id is a PaymentIntent: its latest charge
// is the source.
func (p *stripeProvider) Transfer(ctx context.Context, req TransferRequest) (Transfer, error) {
	source := req.ChargeID
	if strings.HasPrefix(source, "pi_") {
		// Expanded, the charge comes whole; unexpanded it is its id, which
		// stripe-mock's fixture leaves null (so no test could see the
		// transfer's request).
		params := &stripe.PaymentIntentRetrieveParams{}
		params.AddExpand("latest_charge")
		pi, err := p.sc.V1PaymentIntents.Retrieve(ctx, source, params)
		if err != nil {
			return Transfer{}, stripeError("retrieve payment intent", err)
		}
		if pi.LatestCharge == nil || pi.LatestCharge.ID == "" {
			return Transfer{}, fault.New(fault.Invalid, "Payment intent "+source+" has no charge")
		}
		source = pi.LatestCharge.ID
	}
	params := &stripe.TransferCreateParams{
		Amount:            stripe.Int64(int64(req.Amount)),
		Currency:          stripe.String(req.Currency),
		Destination:       stripe.String(req.Destination),
		SourceTransaction: stripe.String(source),
		TransferGroup:     stripe.String(req.TransferGroup),
	}
	params.AddMetadata("order_id", req.TransferGroup)
	if req.IdempotencyKey != "" {
		params.SetIdempotencyKey(req.IdempotencyKey)
	}
	t, err := p.sc.V1Transfers.Create(ctx, params)
	if err != nil {
		return Transfer{}, stripeError("create transfer", err)
	}
	return Transfer{ID: t.ID}, nil
}
