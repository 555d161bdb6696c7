package payments

// Stripe's webhooks (DESIGN.md 9.4): POST /api/payments/webhook.
//
// Stripe calls it, not a signed-in user: the body is trusted only once
// stripe-go's signature check (the endpoint's signing secret,
// STRIPE_WEBHOOK_SECRET) passes and its timestamp is within five minutes.
// Without a secret (the sandbox provider, `up`) the route answers 404.
//
// Stripe delivers at least once and in any order, so every event is
// harmless twice and late:
//   - payment_intent.succeeded and payment_intent.payment_failed name the
//     order (the PaymentIntent's metadata order_id). If that order's claim
//     is still pending (the charge's outcome was unknown to us), the
//     reconciler's own path (resolve) replays it now under its stored key,
//     rather than waiting for its next round: charged → recorded with
//     payment.created (the order completes), refused → the claim is
//     deleted and the order is payable again. The replay asks the provider
//     about the claim's own charge, so an event about an older attempt, or
//     one that overtook a later event, can only make it learn the truth
//     sooner. A payment already settled, or no claim, is left alone. The
//     event id is recorded after the effect: the effect changes only a
//     pending claim, so doing it twice changes nothing.
//   - charge.dispute.created finds the payment by the PaymentIntent (or
//     charge) the dispute names, and records the dispute, the event id and
//     payment.disputed in one transaction; tickets voids the ticket's code.
//     The dispute row makes payout runs skip the order (payout.go).
//   - Any other event type is acknowledged and ignored.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/httpapi"
	"github.com/ticketing/ticketing/internal/platform/ids"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

var (
	// ErrWebhookSignature is a webhook call whose Stripe-Signature header
	// is missing, malformed, made with another secret, over another body,
	// or too old.
	ErrWebhookSignature = fault.Coded(fault.Invalid, "bad_signature", "Invalid Stripe signature")
	// errWebhookOff is the webhook route without a signing secret.
	errWebhookOff = fault.New(fault.NotFound, "Not found")
)

// webhookTolerance is how old a signature may be: stripe-go's default, so
// a captured call cannot be replayed later.
const webhookTolerance = webhook.DefaultTolerance

type webhookJSON struct {
	Received bool `json:"received"`
}

// handleWebhook verifies a call from Stripe and processes its event.
func (s *Service) handleWebhook(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, httpapi.MaxBody)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			httpapi.Error(w, r, fault.New(fault.TooLarge, fmt.Sprintf("Request body is larger than %d bytes", tooLarge.Limit)))
			return
		}
		httpapi.Error(w, r, fault.New(fault.Invalid, "Request body could not be read"))
		return
	}
	if s.cfg.WebhookSecret == "" {
		httpapi.Error(w, r, errWebhookOff)
		return
	}
	ev, err := webhook.ConstructEventWithOptions(body, r.Header.Get("Stripe-Signature"), s.cfg.WebhookSecret,
		webhook.ConstructEventOptions{Tolerance: webhookTolerance})
	switch {
	case errors.Is(err, webhook.ErrNotSigned), errors.Is(err, webhook.ErrInvalidHeader),
		errors.Is(err, webhook.ErrNoValidSignature), errors.Is(err, webhook.ErrTooOld):
		httpapi.Error(w, r, ErrWebhookSignature)
		return
	case err != nil:
		// Signed by Stripe but not an event this stripe-go reads (another
		// API version's, a thin event): the endpoint is set up wrong.
		s.log.Warn("webhook event refused", "err", err)
		httpapi.Error(w, r, fault.New(fault.Invalid, "Not a Stripe event this endpoint reads: "+err.Error()))
		return
	}
	if err := s.HandleWebhook(r.Context(), ev); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.Respond(w, http.StatusOK, webhookJSON{Received: true})
}

// HandleWebhook processes one verified Stripe event; one processed before
// does nothing. An error is a fault for the caller (invalid: a body Stripe
// would not send; unavailable: try again later) or an internal one.
func (s *Service) HandleWebhook(ctx context.Context, ev stripe.Event) error {
	if ev.ID == "" || ev.Data == nil {
		return fault.New(fault.Invalid, "Event has no id or data")
	}
	switch ev.Type {
	case stripe.EventTypePaymentIntentSucceeded, stripe.EventTypePaymentIntentPaymentFailed,
		stripe.EventTypeChargeDisputeCreated, stripe.EventTypeAccountUpdated:
	default:
		return nil
	}
	seen, err := s.store.WebhookSeen(ctx, ev.ID)
	if err != nil || seen {
		return err
	}
	if ev.Type == stripe.EventTypeAccountUpdated {
		// A connected payout account's state (account.go): idempotent, an
		// account nobody here has is ignored.
		var a stripe.Account
		if err := json.Unmarshal(ev.Data.Raw, &a); err != nil || a.ID == "" {
			return fault.New(fault.Invalid, "Event data is not an account")
		}
		if err := s.AccountUpdated(ctx, a.ID, StripeAccountStatus(&a)); err != nil {
			return err
		}
		return s.recordWebhook(ctx, ev)
	}
	if ev.Type == stripe.EventTypeChargeDisputeCreated {
		var d stripe.Dispute
		if err := json.Unmarshal(ev.Data.Raw, &d); err != nil {
			return fault.New(fault.Invalid, "Event data is not a dispute")
		}
		return s.disputeCreated(ctx, ev, &d)
	}
	var pi stripe.PaymentIntent
	if err := json.Unmarshal(ev.Data.Raw, &pi); err != nil {
		return fault.New(fault.Invalid, "Event data is not a payment intent")
	}
	return s.intentSettled(ctx, ev, &pi)
}

// intentSettled resolves the pending claim of the intent's order, if it
// has one nobody holds, through the reconciler's replay.
func (s *Service) intentSettled(ctx context.Context, ev stripe.Event, pi *stripe.PaymentIntent) error {
	orderID := pi.Metadata["order_id"]
	if ids.Valid(orderID) {
		pending, err := s.store.PendingOf(ctx, orderID)
		if err != nil {
			return err
		}
		if pending {
			r, err := s.resolve(context.WithoutCancel(ctx), orderID, true)
			if err != nil {
				return err
			}
			if r == resolvedUnknown {
				// Stripe calls again later; the reconciler tries too.
				return ErrProviderUnavailable
			}
		}
	} else {
		s.log.Warn("webhook: payment intent without our order", "event_id", ev.ID, "payment_intent", pi.ID)
	}
	return s.recordWebhook(ctx, ev)
}

func (s *Service) recordWebhook(ctx context.Context, ev stripe.Event) error {
	return s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		_, err := s.store.RecordWebhook(ctx, tx, ev.ID, string(ev.Type), s.cfg.Now())
		return err
	})
}

// disputeCreated records the dispute of a payment and publishes
// payment.disputed, with the event id, in one transaction.
func (s *Service) disputeCreated(ctx context.Context, ev stripe.Event, d *stripe.Dispute) error {
	var intentID, chargeID string
	if d.PaymentIntent != nil {
		intentID = d.PaymentIntent.ID
	}
	if d.Charge != nil {
		chargeID = d.Charge.ID
	}
	if d.ID == "" || intentID == "" && chargeID == "" {
		return fault.New(fault.Invalid, "Dispute has no id or charge")
	}
	err := s.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		now := s.cfg.Now()
		first, err := s.store.RecordWebhook(ctx, tx, ev.ID, string(ev.Type), now)
		if err != nil || !first {
			return err
		}
		p, err := s.store.PaymentByStripeID(ctx, tx, intentID, chargeID)
		if errors.Is(err, sqldb.ErrNotFound) {
			// Not a charge of ours (another integration on the account).
			s.log.Warn("webhook: dispute of an unknown charge", "event_id", ev.ID, "dispute_id", d.ID,
				"payment_intent", intentID, "charge", chargeID)
			return nil
		}
		if err != nil {
			return err
		}
		o, err := s.store.OrderForUpdate(ctx, tx, p.OrderID)
		if err != nil {
			return err
		}
		first, err = s.store.InsertDispute(ctx, tx, Dispute{ID: d.ID, PaymentID: p.ID, OrderID: p.OrderID,
			ChargeID: firstOf(intentID, chargeID), Amount: d.Amount, Reason: string(d.Reason), CreatedAt: now})
		if err != nil || !first {
			return err
		}
		s.log.Warn("payment disputed", "order_id", p.OrderID, "payment_id", p.ID, "dispute_id", d.ID,
			"reason", d.Reason, "amount", d.Amount)
		return s.ob.Add(ctx, tx, events.PaymentDisputed{ID: d.ID, PaymentID: p.ID, OrderID: p.OrderID,
			UserID: o.UserID, ChargeID: p.StripeID})
	})
	if err != nil {
		return fmt.Errorf("dispute %s: %w", d.ID, err)
	}
	return nil
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Disputed says whether the order's payment is disputed.
func (s *Service) Disputed(ctx context.Context, orderID string) (bool, error) {
	return s.store.Disputed(ctx, orderID)
}
