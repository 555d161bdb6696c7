package main

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"

	"github.com/ticketing/ticketing/internal/auth"
	"github.com/ticketing/ticketing/internal/expiration"
	"github.com/ticketing/ticketing/internal/orders"
	"github.com/ticketing/ticketing/internal/payments"
	"github.com/ticketing/ticketing/internal/platform/admission"
	"github.com/ticketing/ticketing/internal/platform/outbox"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/shows"
	"github.com/ticketing/ticketing/internal/tickets"
	"github.com/ticketing/ticketing/internal/web"
)

// partSpec says how to build one part and where the gateway sends its
// requests (no prefix: it serves no public API).
type partSpec struct {
	name   string
	prefix string
	// also are further prefixes the part serves (tickets: /api/checkins, /api/transfers).
	also []string
	// fallback marks the part that answers every path no prefix claims
	// (the web client).
	fallback bool
	// events marks the parts that publish or consume events, and the parts
	// with an API, which follow session.revoked: `serve` connects
	// them to NATS_URL.
	events bool
	// codes marks the parts that sign or verify tickets' entry codes:
	// `serve` requires TICKET_SIGNING_KEY for them.
	codes bool
	// url is where `serve gateway` finds the part.
	url   func(Config) string
	build func(context.Context, infra) (*part, error)
}

// prefixes are every path prefix the gateway sends to the part.
func (s partSpec) prefixes() []string {
	if s.prefix == "" {
		return nil
	}
	return append([]string{s.prefix}, s.also...)
}

// catalog lists the parts in start order; `up` runs them all, `serve NAME`
// one of them. Both build them with the same functions.
func catalog() []partSpec {
	return []partSpec{
		{name: "auth", prefix: "/api/users", url: func(c Config) string { return c.AuthURL }, events: true, build: buildAuth},
		{name: "tickets", prefix: "/api/tickets", also: []string{"/api/checkins", "/api/transfers"}, url: func(c Config) string { return c.TicketsURL }, events: true, codes: true, build: buildTickets},
		{name: "orders", prefix: "/api/orders", url: func(c Config) string { return c.OrdersURL }, events: true, build: buildOrders},
		{name: "expiration", events: true, build: buildExpiration},
		{name: "payments", prefix: "/api/payments", url: func(c Config) string { return c.PaymentsURL }, events: true, build: buildPayments},
		{name: "events", prefix: "/api/events", url: func(c Config) string { return c.EventsURL }, events: true, build: buildEvents},
		{name: "web", fallback: true, url: func(c Config) string { return c.WebURL }, build: buildWeb},
	}
}

func buildAuth(ctx context.Context, in infra) (*part, error) {
	db, ob, err := in.withOutbox(ctx, "auth", auth.Migrations)
	if err != nil {
		return nil, err
	}
	svc := auth.New(db, ob, in.log.With("service", "auth"), auth.Config{
		Key:            in.key,
		CookieSecure:   in.cfg.CookieSecure,
		RatePerMinute:  in.cfg.AuthRatePerMinute,
		TrustedProxies: in.trusted,
		Revoked:        in.revoked,
		// nil (OWASP's parameters) unless a test sets it.
		PasswordHashing: in.cfg.passwordHashing,
	})
	return &part{name: "auth", db: db, ob: ob, routes: svc.Routes, close: svc.Close}, nil
}

// withOutbox opens a service's database with the outbox table beside its
// own, and the outbox that relays its events.
func (in infra) withOutbox(ctx context.Context, name string, migs sqldb.Migrations) (*sqldb.DB, *outbox.Outbox, error) {
	db, err := in.openDB(ctx, name, outbox.Migrations, migs)
	if err != nil {
		return nil, nil, err
	}
	// A SQLite file has one process, so one relay (outbox.Config.SoleRelay).
	cfg := outbox.Config{SoleRelay: db.Engine() == sqldb.SQLite}
	return db, outbox.New(db, in.bus, in.log.With("service", name, "component", "outbox"), cfg), nil
}

func buildTickets(ctx context.Context, in infra) (*part, error) {
	db, ob, err := in.withOutbox(ctx, "tickets", tickets.Migrations)
	if err != nil {
		return nil, err
	}
	svc := tickets.New(db, ob, in.log.With("service", "tickets"), tickets.Config{
		MaxListings: in.cfg.MaxListings,
		SigningKey:  in.cfg.TicketSigningKey,
	})
	return &part{name: "tickets", db: db, ob: ob, routes: svc.Routes, listeners: svc.Listeners()}, nil
}

func buildOrders(ctx context.Context, in infra) (*part, error) {
	db, ob, err := in.withOutbox(ctx, "orders", orders.Migrations)
	if err != nil {
		return nil, err
	}
	admissionKey, err := admission.Key(in.key)
	if err != nil {
		return nil, err
	}
	svc := orders.New(db, ob, in.log.With("service", "orders"), orders.Config{
		AdmissionKey:         admissionKey,
		Window:               in.cfg.ExpirationWindow,
		MaxPending:           in.cfg.MaxPendingOrders,
		MaxPendingPerAddress: in.cfg.MaxPendingPerAddress,
		TrustedProxies:       in.trusted,
		SweepEvery:           in.cfg.sweepEvery,
		SweepGrace:           in.cfg.sweepGrace,
		CatchUp:              in.cfg.catchUp,
		Fee:                  in.cfg.ServiceFee,
	})
	return &part{name: "orders", db: db, ob: ob, routes: svc.Routes, listeners: svc.Listeners(), run: svc.RunSweeper}, nil
}

// buildExpiration needs no database: the pending expiries are JetStream
// message schedules, kept by the bus itself.
func buildExpiration(_ context.Context, in infra) (*part, error) {
	svc := expiration.New(in.bus.JetStream(), in.log.With("service", "expiration"), expiration.Config{})
	return &part{name: "expiration", listeners: svc.Listeners()}, nil
}

// buildPayments charges through Stripe when a secret key is set (pointed at
// STRIPE_API_BASE, e.g. stripe-mock, when that is set too), and through the
// sandbox provider otherwise: no money moves and the UI says so (it keeps a
// journal in the data dir when the process keeps its state there). Its
// reconciler runs in the background, in every replica (a claim's lease
// decides which one replays it). Stripe needs STRIPE_WEBHOOK_SECRET too:
// a dispute arrives only by its webhook.
func buildPayments(ctx context.Context, in infra) (_ *part, err error) {
	if in.cfg.StripeSecretKey != "" && in.cfg.StripeWebhookSecret == "" {
		return nil, errors.New("STRIPE_WEBHOOK_SECRET is required with STRIPE_SECRET_KEY: the signing secret of the " +
			"webhook endpoint (https://<host>/api/payments/webhook) in Stripe's dashboard, which starts with whsec_")
	}
	db, ob, err := in.withOutbox(ctx, "payments", payments.Migrations)
	if err != nil {
		return nil, err
	}
	var closeProvider func() error
	defer func() {
		if err != nil {
			db.Close()
			if closeProvider != nil {
				closeProvider()
			}
		}
	}()
	provider := in.cfg.provider
	switch {
	case provider != nil:
	case in.cfg.StripeSecretKey != "":
		provider = payments.NewStripe(in.cfg.StripeSecretKey, in.cfg.StripeAPIBase)
	case in.sandboxJournal != "":
		// The journal lets a restarted process know what its sandbox did:
		// a replay after a crash gets the first transfer back, a refund
		// finds a charge made before the restart.
		sb, err := payments.NewSandboxAt(in.sandboxJournal, in.cfg.Fsync == "always")
		if err != nil {
			return nil, err
		}
		provider, closeProvider = sb, sb.Close
		in.log.Info("sandbox provider journal", "path", in.sandboxJournal)
	default:
		provider = payments.NewSandbox()
	}
	in.log.Info("payment provider", "provider", provider.Name())
	svc := payments.New(db, ob, in.log.With("service", "payments"), payments.Config{
		Provider:       provider,
		ReconcileEvery: in.cfg.reconcileEvery,
		ReconcileAfter: in.cfg.reconcileAfter,
		PayoutHold:     in.cfg.PayoutHold,
		WebhookSecret:  in.cfg.StripeWebhookSecret,
	})
	// A SQLite file has one process: the payouts an earlier one left
	// pending are a dead run's, replayed at once rather than after their
	// lease (ReleasePayoutLeases).
	if db.Engine() == sqldb.SQLite {
		n, err := svc.ReleasePayoutLeases(ctx)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			in.log.Info("payouts: released the leases an earlier process left", "payouts", n)
		}
	}
	// Payouts run when their schedules in the bus fire (payout.due).
	if err := svc.EnablePayoutSchedules(ctx, in.bus.JetStream(), in.cfg.PayoutSweep); err != nil {
		return nil, err
	}
	in.metrics.Gauge("payments", "ticketing_payments_pending_claims",
		"Payments whose charge outcome is still unknown past the reconciler's delay (2 min) after their claim: "+
			"the reconciler replays them. One that stays means the provider keeps failing, "+
			"or the claim is too old to replay (an error log names it).",
		func(ctx context.Context) (float64, error) {
			n, err := svc.PendingClaims(ctx)
			return float64(n), err
		})
	return &part{name: "payments", db: db, ob: ob, routes: svc.Routes, listeners: svc.Listeners(), run: svc.RunReconciler,
		close: closeProvider}, nil
}

// buildEvents is the events part (package shows): organizers' events,
// their tickets left, and their waiting rooms.
func buildEvents(ctx context.Context, in infra) (*part, error) {
	db, ob, err := in.withOutbox(ctx, shows.Name, shows.Migrations)
	if err != nil {
		return nil, err
	}
	svc := shows.New(db, ob, in.log.With("service", shows.Name), shows.Config{
		JoinsPerMinute: in.cfg.QueueJoinsPerMinute,
		TrustedProxies: in.trusted,
	})
	// The waiting rooms live in a JetStream key-value bucket, the same in
	// `up` (embedded NATS) as in `serve`.
	admissionKey, err := admission.Key(in.key)
	if err != nil {
		return nil, err
	}
	err = svc.EnableQueue(ctx, in.bus.JetStream(), shows.QueueConfig{
		Replicas:     in.cfg.StreamReplicas,
		AdmissionKey: admissionKey,
		AdmitFactor:  in.cfg.QueueAdmitFactor,
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &part{name: shows.Name, db: db, ob: ob, routes: svc.Routes, listeners: svc.Listeners(), close: svc.Close}, nil
}

// buildWeb is the server-rendered client. It calls the API through the
// gateway: in `up` in-process (in.api), in `serve web` at GATEWAY_URL.
func buildWeb(_ context.Context, in infra) (*part, error) {
	if u, err := url.Parse(in.apiBase); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("web: GATEWAY_URL %q is not an http(s) URL", in.apiBase)
	}
	// The web signs its own cookie (the flash after a form) with a key
	// derived from JWT_KEY: every replica derives the same one, and the
	// web never holds the key that signs sessions.
	cookieKey, err := hkdf.Key(sha256.New, in.key, nil, "ticketing web cookies", 32)
	if err != nil {
		return nil, fmt.Errorf("web cookie key: %w", err)
	}
	svc := web.New(in.log.With("service", "web"), web.Config{
		APIBase:              in.apiBase,
		Transport:            in.api,
		StripePublishableKey: in.cfg.StripePublishableKey,
		CookieSecure:         in.cfg.CookieSecure,
		CookieKey:            cookieKey,
		TrustedProxies:       in.trusted,
		Fee:                  in.cfg.ServiceFee,
	})
	return &part{name: "web", routes: svc.Routes, raw: true}, nil
}
