package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/ticketing/ticketing/internal/payments"
	"github.com/ticketing/ticketing/internal/platform/entrycode"
	"github.com/ticketing/ticketing/internal/platform/money"
)

// Config is everything the binary reads from its environment. Each field is
// an environment variable (DESIGN.md section 2) and also a flag; a flag wins
// over the variable, the variable over the default.
type Config struct {
	Addr        string
	DataDir     string
	NATSURL     string
	DatabaseURL string
	JWTKey      string
	// TicketSigningKey signs tickets' entry codes (TICKET_SIGNING_KEY,
	// parsed; nil when unset). `up` without it uses the key in the data
	// dir; `serve` requires it for the parts that sign or verify codes.
	TicketSigningKey     ed25519.PrivateKey
	ExpirationWindow     time.Duration
	StripeSecretKey      string
	StripeAPIBase        string
	StripePublishableKey string
	StripeWebhookSecret  string
	CookieSecure         bool
	AuthRatePerMinute    int
	MaxPendingOrders     int
	// MaxPendingPerAddress bounds the unpaid orders of all the accounts
	// of one client address together; MaxListings a seller's tickets on
	// sale.
	MaxPendingPerAddress int
	MaxListings          int
	// ServiceFee is the buyer's service fee on every order
	// (SERVICE_FEE_PERCENT, SERVICE_FEE_CENTS; DESIGN.md section 9.4).
	ServiceFee money.FeeRule
	// QueueAdmitFactor: the waiting room lets in at most the free tickets
	// times it; QueueJoinsPerMinute bounds the joins of one address.
	QueueAdmitFactor    float64
	QueueJoinsPerMinute int
	// PayoutHold is how long a sale's proceeds are held after its event's
	// end (a free-form listing's: after the sale) before they are due
	// (PAYOUT_HOLD; DESIGN.md section 9.4).
	PayoutHold time.Duration
	// PayoutSweep is how often the payout sweep runs (PAYOUT_SWEEP): it
	// pays free-form sales and payees who connected an account late.
	PayoutSweep    time.Duration
	TrustedProxies string
	StreamReplicas int
	// EventMaxDeliveries bounds the deliveries of an event whose handler
	// fails on its own (an outage of a dependency does not count);
	// EventRetryMax caps the delay between them.
	EventMaxDeliveries int
	EventRetryMax      time.Duration
	// Fsync is "normal" (crash-safe) or "always" (power-loss safe) for the
	// embedded NATS and SQLite of `up`.
	Fsync     string
	LogLevel  string
	LogFormat string
	// MetricsAddr, when set, serves /metrics on its own listener instead
	// of the main one (so a public ingress never exposes it).
	MetricsAddr string
	// Pprof serves the runtime profiles (net/http/pprof, /debug/pprof/)
	// beside /metrics on MetricsAddr, never on the main address: it needs
	// MetricsAddr.
	Pprof bool
	// ShutdownGrace is how long the server keeps serving after SIGTERM
	// with /readyz failing, so balancers stop sending before it stops.
	ShutdownGrace time.Duration

	// NATSUser, NATSPassword and NATSCAFile: the part's own NATS user
	// and the CA of a tls:// NATS_URL (deploy/README.md).
	NATSUser, NATSPassword, NATSCAFile string

	// Where `serve gateway` finds each service.
	AuthURL, TicketsURL, OrdersURL, PaymentsURL, EventsURL, WebURL string
	// Where `serve web` reaches the API.
	GatewayURL string

	// passwordHashing, when set, replaces auth's argon2id parameters. No
	// variable sets it: the end-to-end tests hand in a cheap set.
	passwordHashing *argon2id.Params
	// provider, when set, replaces the payment provider the keys choose.
	// No variable sets it: tests hand in the sandbox wrapped so that a
	// charge can be held back and lose its race with the expiry on purpose.
	provider payments.Provider
	// reconcileEvery and reconcileAfter, when set, replace the payments
	// reconciler's defaults (30 s, 2 min): tests shorten them.
	reconcileEvery, reconcileAfter time.Duration
	// sweepEvery and sweepGrace, when set, replace how often orders sweeps
	// for orders past their expiry and how far past (1 min, 1 min): tests
	// shorten them.
	sweepEvery, sweepGrace time.Duration
	// catchUp, when set, replaces how long a reservation of a ticket
	// orders has never seen waits for it (2 s): the bad-input sweeps send
	// hundreds of well-formed unknown ids and shorten it.
	catchUp time.Duration
}

// LogValue logs every exported field once, so an operator sees at start
// exactly what the process runs with; secrets show only whether they are
// set, and URLs hide their passwords. TestConfigLogValueCoversEveryField
// fails when a new field is not logged here.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("addr", c.Addr),
		slog.String("data_dir", c.DataDir),
		slog.String("nats_url", maskURL(c.NATSURL)),
		slog.String("nats_user", c.NATSUser),
		slog.Bool("nats_password_set", c.NATSPassword != ""),
		slog.String("nats_ca_file", c.NATSCAFile),
		slog.String("database_url", maskURL(c.DatabaseURL)),
		slog.Bool("jwt_key_set", c.JWTKey != ""),
		slog.Bool("ticket_signing_key_set", c.TicketSigningKey != nil),
		slog.Duration("expiration_window", c.ExpirationWindow),
		slog.Bool("stripe", c.StripeSecretKey != ""),
		slog.String("stripe_api_base", c.StripeAPIBase),
		slog.Bool("stripe_publishable_key_set", c.StripePublishableKey != ""),
		slog.Bool("stripe_webhook_key_set", c.StripeWebhookSecret != ""),
		slog.Bool("cookie_secure", c.CookieSecure),
		slog.Int("auth_rate_per_minute", c.AuthRatePerMinute),
		slog.Int("max_pending_orders", c.MaxPendingOrders),
		slog.Int("max_pending_orders_per_address", c.MaxPendingPerAddress),
		slog.Int("max_listings", c.MaxListings),
		slog.String("service_fee", c.ServiceFee.String()),
		slog.Float64("queue_admit_factor", c.QueueAdmitFactor),
		slog.Int("queue_joins_per_minute", c.QueueJoinsPerMinute),
		slog.Duration("payout_hold", c.PayoutHold),
		slog.Duration("payout_sweep", c.PayoutSweep),
		slog.String("trusted_proxies", c.TrustedProxies),
		slog.Int("stream_replicas", c.StreamReplicas),
		slog.Int("event_max_deliveries", c.EventMaxDeliveries),
		slog.Duration("event_retry_max", c.EventRetryMax),
		slog.String("fsync", c.Fsync),
		slog.String("log_level", c.LogLevel),
		slog.String("log_format", c.LogFormat),
		slog.String("metrics_addr", c.MetricsAddr),
		slog.Bool("pprof", c.Pprof),
		slog.Duration("shutdown_grace", c.ShutdownGrace),
		slog.String("auth_url", maskURL(c.AuthURL)),
		slog.String("tickets_url", maskURL(c.TicketsURL)),
		slog.String("orders_url", maskURL(c.OrdersURL)),
		slog.String("payments_url", maskURL(c.PaymentsURL)),
		slog.String("events_url", maskURL(c.EventsURL)),
		slog.String("web_url", maskURL(c.WebURL)),
		slog.String("gateway_url", maskURL(c.GatewayURL)),
	)
}

// maskURL hides a password in a URL's user info.
func maskURL(s string) string {
	at := strings.LastIndex(s, "@")
	scheme := strings.Index(s, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return s
	}
	user := s[scheme+3 : at]
	if name, _, ok := strings.Cut(user, ":"); ok {
		return s[:scheme+3] + name + ":***" + s[at:]
	}
	return s
}

// mode is how the binary runs: everything in one process, or one part.
type mode int

const (
	modeUp mode = iota
	modeServe
)

// parseConfig reads the environment (through getenv) and the flags in args.
func parseConfig(fs *flag.FlagSet, args []string, getenv func(string) string, m mode) (Config, error) {
	var c Config
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	var errs []error
	envInt := func(name string, def int) int {
		v := env(name, strconv.Itoa(def))
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("%s=%q: want a whole number >= 0", name, v))
		}
		return n
	}
	envFloat := func(name string, def float64) float64 {
		v := env(name, strconv.FormatFloat(def, 'f', -1, 64))
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || f > 100 {
			errs = append(errs, fmt.Errorf("%s=%q: want a number above 0, at most 100", name, v))
		}
		return f
	}
	envBool := func(name string, def bool) bool {
		v := env(name, strconv.FormatBool(def))
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: want true or false", name, v))
		}
		return b
	}
	envDur := func(name string, def time.Duration) time.Duration {
		v := env(name, def.String())
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s=%q: want a positive Go duration such as 15m", name, v))
		}
		return d
	}
	// envGrace is envDur where 0 is allowed (stop at once).
	envGrace := func(name string, def time.Duration) time.Duration {
		v := env(name, def.String())
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("%s=%q: want a Go duration >= 0 such as 5s", name, v))
		}
		return d
	}
	defAddr, defGrace := "localhost:8080", time.Duration(0)
	if m == modeServe {
		defAddr = ":8080" // in a container: every interface
		// Behind a balancer (the gateway checks /readyz every 2 s, a
		// Kubernetes Service every 5 s): long enough for it to notice.
		defGrace = 5 * time.Second
	}
	fs.StringVar(&c.Addr, "addr", env("TICKETING_ADDR", defAddr), "listen address (TICKETING_ADDR)")
	fs.StringVar(&c.DataDir, "data-dir", env("TICKETING_DATA_DIR", "./data"), "where embedded NATS and SQLite keep data (TICKETING_DATA_DIR)")
	fs.StringVar(&c.NATSURL, "nats-url", env("NATS_URL", ""), "external NATS; empty means embedded (NATS_URL)")
	fs.StringVar(&c.NATSUser, "nats-user", env("NATS_USER", ""), "user for NATS_URL, one per part (NATS_USER)")
	fs.StringVar(&c.NATSPassword, "nats-password", env("NATS_PASSWORD", ""), "password of NATS_USER (NATS_PASSWORD)")
	fs.StringVar(&c.NATSCAFile, "nats-ca-file", env("NATS_CA_FILE", ""), "PEM CA that signed the NATS server's certificate, for tls:// (NATS_CA_FILE)")
	fs.StringVar(&c.DatabaseURL, "database-url", env("DATABASE_URL", ""), "PostgreSQL URL; empty means SQLite files in the data dir (DATABASE_URL)")
	fs.StringVar(&c.JWTKey, "jwt-key", env("JWT_KEY", ""), "HMAC key for session tokens; required by serve (JWT_KEY)")
	var signingKey string
	fs.StringVar(&signingKey, "ticket-signing-key", env("TICKET_SIGNING_KEY", ""), "base64 of the 32-byte Ed25519 seed that signs tickets' entry codes; required by serve tickets (TICKET_SIGNING_KEY)")
	fs.DurationVar(&c.ExpirationWindow, "expiration-window", envDur("EXPIRATION_WINDOW", 15*time.Minute), "how long an order holds a ticket (EXPIRATION_WINDOW)")
	fs.StringVar(&c.StripeSecretKey, "stripe-secret-key", env("STRIPE_SECRET_KEY", ""), "Stripe secret key; empty means the sandbox provider (STRIPE_SECRET_KEY)")
	fs.StringVar(&c.StripeAPIBase, "stripe-api-base", env("STRIPE_API_BASE", ""), "Stripe API base URL, e.g. stripe-mock (STRIPE_API_BASE)")
	fs.StringVar(&c.StripeWebhookSecret, "stripe-webhook-secret", env("STRIPE_WEBHOOK_SECRET", ""), "signing secret (whsec_...) of Stripe's webhook endpoint POST /api/payments/webhook; required with STRIPE_SECRET_KEY, empty turns the webhook off (STRIPE_WEBHOOK_SECRET)")
	fs.StringVar(&c.StripePublishableKey, "stripe-publishable-key", env("STRIPE_PUBLISHABLE_KEY", ""), "Stripe publishable key: the order page uses Stripe.js (STRIPE_PUBLISHABLE_KEY)")
	fs.BoolVar(&c.CookieSecure, "cookie-secure", envBool("COOKIE_SECURE", m == modeServe), "mark the session cookie Secure (COOKIE_SECURE)")
	fs.IntVar(&c.AuthRatePerMinute, "auth-rate-per-minute", envInt("AUTH_RATE_PER_MINUTE", 30), "failed sign-ins and sign-up attempts per minute per address, failed sign-ins per email; 0 = no limit (AUTH_RATE_PER_MINUTE)")
	fs.IntVar(&c.MaxPendingOrders, "max-pending-orders", envInt("MAX_PENDING_ORDERS", 10), "unpaid orders one user may hold, at least 1 (MAX_PENDING_ORDERS)")
	fs.IntVar(&c.MaxPendingPerAddress, "max-pending-orders-per-address", envInt("MAX_PENDING_ORDERS_PER_ADDRESS", 30), "unpaid orders the accounts of one client address may hold together, at least 1 (MAX_PENDING_ORDERS_PER_ADDRESS)")
	fs.IntVar(&c.MaxListings, "max-listings", envInt("MAX_LISTINGS", 200), "tickets one seller may have on sale at once, at least 1 (MAX_LISTINGS)")
	var feePercent string
	var feeCents int
	fs.StringVar(&feePercent, "service-fee-percent", env("SERVICE_FEE_PERCENT", "10"), "buyer's service fee: percent of the price, 0 to 100, at most two decimals (SERVICE_FEE_PERCENT)")
	fs.IntVar(&feeCents, "service-fee-cents", envInt("SERVICE_FEE_CENTS", 50), "buyer's service fee: fixed cents added to every order, >= 0 (SERVICE_FEE_CENTS)")
	fs.Float64Var(&c.QueueAdmitFactor, "queue-admit-factor", envFloat("QUEUE_ADMIT_FACTOR", 1.5), "the waiting room lets in at most the free tickets times this (QUEUE_ADMIT_FACTOR)")
	fs.IntVar(&c.QueueJoinsPerMinute, "queue-joins-per-minute", envInt("QUEUE_JOINS_PER_MINUTE", 30), "waiting-room joins per minute per client address; 0 = no limit (QUEUE_JOINS_PER_MINUTE)")
	fs.DurationVar(&c.PayoutHold, "payout-hold", envDur("PAYOUT_HOLD", payments.DefaultPayoutHold), "how long a sale's proceeds are held after the event's end (a free-form listing's: after the sale) before they are due, e.g. 48h (PAYOUT_HOLD)")
	fs.DurationVar(&c.PayoutSweep, "payout-sweep", envDur("PAYOUT_SWEEP", payments.DefaultPayoutSweep), "how often the payout sweep pays what is due beside the events' own runs (free-form sales, accounts connected late), at least 1s (PAYOUT_SWEEP)")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", env("TRUSTED_PROXIES", ""), "CIDRs whose X-Forwarded-For is believed (TRUSTED_PROXIES)")
	fs.IntVar(&c.StreamReplicas, "stream-replicas", envInt("NATS_STREAM_REPLICAS", 1), "replicas of the TICKETING stream in a NATS cluster (NATS_STREAM_REPLICAS)")
	fs.IntVar(&c.EventMaxDeliveries, "event-max-deliveries", envInt("EVENT_MAX_DELIVERIES", 20), "deliveries of an event whose handler keeps failing on its own before it is given up; an outage of the database or provider does not count (EVENT_MAX_DELIVERIES)")
	fs.DurationVar(&c.EventRetryMax, "event-retry-max", envDur("EVENT_RETRY_MAX", 10*time.Second), "longest delay before an event whose handler failed is delivered again; the delay starts at 100ms and doubles (EVENT_RETRY_MAX)")
	fs.StringVar(&c.Fsync, "fsync", env("TICKETING_FSYNC", "normal"), "normal: a process crash loses nothing; always: a power loss neither, slower (TICKETING_FSYNC)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", env("METRICS_ADDR", ""), "serve /metrics on this address instead of the main one (METRICS_ADDR)")
	fs.BoolVar(&c.Pprof, "pprof", envBool("PPROF", false), "serve the Go runtime's profiles at /debug/pprof/ on METRICS_ADDR, which must be set (PPROF)")
	fs.DurationVar(&c.ShutdownGrace, "shutdown-grace", envGrace("SHUTDOWN_GRACE", defGrace), "after SIGTERM, keep serving this long with /readyz failing, then stop; 0 = stop at once (SHUTDOWN_GRACE)")
	fs.StringVar(&c.LogLevel, "log-level", env("LOG_LEVEL", "info"), "debug, info, warn or error (LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", env("LOG_FORMAT", "text"), "text or json (LOG_FORMAT)")
	fs.StringVar(&c.AuthURL, "auth-url", env("AUTH_URL", "http://auth:8080"), "serve gateway: the auth service (AUTH_URL)")
	fs.StringVar(&c.TicketsURL, "tickets-url", env("TICKETS_URL", "http://tickets:8080"), "serve gateway: the tickets service (TICKETS_URL)")
	fs.StringVar(&c.OrdersURL, "orders-url", env("ORDERS_URL", "http://orders:8080"), "serve gateway: the orders service (ORDERS_URL)")
	fs.StringVar(&c.PaymentsURL, "payments-url", env("PAYMENTS_URL", "http://payments:8080"), "serve gateway: the payments service (PAYMENTS_URL)")
	fs.StringVar(&c.EventsURL, "events-url", env("EVENTS_URL", "http://events:8080"), "serve gateway: the events service (EVENTS_URL)")
	fs.StringVar(&c.WebURL, "web-url", env("WEB_URL", "http://web:8080"), "serve gateway: the web client (WEB_URL)")
	fs.StringVar(&c.GatewayURL, "gateway-url", env("GATEWAY_URL", "http://gateway:8080"), "serve web: the gateway the pages call the API through (GATEWAY_URL)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if err := checkJWTKey(c.JWTKey, m); err != nil {
		errs = append(errs, err)
	}
	if signingKey != "" {
		k, err := parseTicketSigningKey(signingKey, m)
		if err != nil {
			errs = append(errs, err)
		}
		c.TicketSigningKey = k
	}
	if basis, err := money.ParsePercent(feePercent); err != nil {
		errs = append(errs, fmt.Errorf("SERVICE_FEE_PERCENT=%q: %w", feePercent, err))
	} else {
		c.ServiceFee.Basis = basis
	}
	if feeCents < 0 || feeCents > 1_000_000 {
		errs = append(errs, fmt.Errorf("SERVICE_FEE_CENTS=%d: want whole cents from 0 to 1000000", feeCents))
	} else {
		c.ServiceFee.Fixed = money.Cents(feeCents)
	}
	if c.Fsync != "normal" && c.Fsync != "always" {
		errs = append(errs, fmt.Errorf("TICKETING_FSYNC=%q: want normal or always", c.Fsync))
	}
	if c.Pprof && c.MetricsAddr == "" {
		// The profiles show the process's insides (and a CPU profile costs
		// CPU while it runs): never on the address the public reaches.
		errs = append(errs, errors.New("PPROF=true needs METRICS_ADDR: the profiles are served only on the metrics listener"))
	}
	if c.PayoutHold <= 0 {
		errs = append(errs, errors.New("-payout-hold must be positive"))
	}
	if c.PayoutSweep < time.Second {
		errs = append(errs, errors.New("-payout-sweep must be at least 1s"))
	}
	if c.ExpirationWindow <= 0 {
		errs = append(errs, errors.New("-expiration-window must be positive"))
	}
	// 0 is "off" for the rate limit but not here: a marketplace without the
	// bound lets one account hoard a sale; a load test sets a large number.
	if c.MaxPendingOrders < 1 {
		errs = append(errs, fmt.Errorf("MAX_PENDING_ORDERS=%d: want at least 1 (a large number for load tests)", c.MaxPendingOrders))
	}
	if c.MaxPendingPerAddress < 1 {
		errs = append(errs, fmt.Errorf("MAX_PENDING_ORDERS_PER_ADDRESS=%d: want at least 1 (a large number for load tests)", c.MaxPendingPerAddress))
	}
	if c.QueueAdmitFactor <= 0 || c.QueueAdmitFactor > 100 {
		errs = append(errs, fmt.Errorf("QUEUE_ADMIT_FACTOR=%g: want a number above 0, at most 100", c.QueueAdmitFactor))
	}
	if c.MaxListings < 1 {
		errs = append(errs, fmt.Errorf("MAX_LISTINGS=%d: want at least 1", c.MaxListings))
	}
	if c.EventMaxDeliveries < 1 {
		errs = append(errs, fmt.Errorf("EVENT_MAX_DELIVERIES=%d: want at least 1", c.EventMaxDeliveries))
	}
	if c.EventRetryMax <= 0 {
		errs = append(errs, errors.New("-event-retry-max must be positive"))
	}
	if c.StreamReplicas < 1 || c.StreamReplicas > 5 {
		errs = append(errs, fmt.Errorf("NATS_STREAM_REPLICAS=%d: want 1 to 5 (JetStream's range)", c.StreamReplicas))
	}
	return c, errors.Join(errs...)
}

// minJWTKey is the shortest session signing key accepted, given or
// generated: HS256 wants a key at least as long as its 32-byte hash, and a
// short one can be guessed offline from any session cookie.
const minJWTKey = 32

// checkJWTKey is the one rule for JWT_KEY in `up` and `serve`: at least
// minJWTKey characters when set; `serve` must have it (every part shares
// it), while `up` generates one into the data dir when it is empty.
func checkJWTKey(key string, m mode) error {
	const how = "(e.g. `openssl rand -hex 32`)"
	switch {
	case key == "" && m == modeServe:
		return fmt.Errorf("serve needs JWT_KEY, the session signing key shared by every service, of at least %d characters %s", minJWTKey, how)
	case key != "" && len(key) < minJWTKey:
		hint := ""
		if m == modeUp {
			hint = ", or leave it empty to have one generated into the data dir"
		}
		return fmt.Errorf("JWT_KEY is %d characters: want at least %d %s%s", len(key), minJWTKey, how, hint)
	}
	return nil
}

// parseTicketSigningKey reads TICKET_SIGNING_KEY; its error names the
// variable and how to make a key, never the value given.
func parseTicketSigningKey(s string, m mode) (ed25519.PrivateKey, error) {
	k, err := entrycode.ParseKey(s)
	if err != nil {
		hint := ""
		if m == modeUp {
			hint = ", or leave it empty to have one generated into the data dir"
		}
		return nil, fmt.Errorf("TICKET_SIGNING_KEY is not a ticket signing key: want the base64 of a 32-byte Ed25519 seed (e.g. `openssl rand -base64 32`)%s", hint)
	}
	return k, nil
}

// checkTicketSigningKey: `serve` of a part that signs or verifies entry
// codes must have TICKET_SIGNING_KEY, the same in all its replicas (`up`
// keeps one in the data dir).
func checkTicketSigningKey(cfg Config, part string) error {
	if cfg.TicketSigningKey == nil {
		return fmt.Errorf("serve %s needs TICKET_SIGNING_KEY, the key that signs tickets' entry codes, the same in every replica: the base64 of a 32-byte Ed25519 seed (e.g. `openssl rand -base64 32`)", part)
	}
	return nil
}

// newLogger builds the process logger from the config.
func newLogger(w io.Writer, c Config) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, fmt.Errorf("LOG_LEVEL=%q: want debug, info, warn or error", c.LogLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.LogFormat {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("LOG_FORMAT=%q: want text or json", c.LogFormat)
}

// localJWTKey returns the session key kept in the data dir (jwt.key),
// generating it on the first run, so sessions survive a restart of `up`.
func localJWTKey(dataDir string) ([]byte, error) {
	k, err := localKey(dataDir, "jwt.key",
		func() string {
			key := make([]byte, 32)
			rand.Read(key)
			return hex.EncodeToString(key)
		},
		func(path, k string) error {
			if len(k) < minJWTKey {
				return fmt.Errorf("%s is shorter than %d characters: delete it to get a new one", path, minJWTKey)
			}
			return nil
		})
	return []byte(k), err
}

// localTicketSigningKey returns the entry-code signing key kept in the
// data dir (ticket-signing.key), generating it on the first run, so the
// codes issued survive a restart of `up`. A damaged file is refused rather
// than replaced: a new key would turn away every code issued with the old.
func localTicketSigningKey(dataDir string) (ed25519.PrivateKey, error) {
	var priv ed25519.PrivateKey
	_, err := localKey(dataDir, "ticket-signing.key", entrycode.GenerateKey,
		func(path, k string) (err error) {
			if priv, err = entrycode.ParseKey(k); err != nil {
				return fmt.Errorf("%s is not a ticket signing key (the base64 of a 32-byte Ed25519 seed): restore it from a backup, or delete it to get a new one, which voids every entry code issued so far", path)
			}
			return nil
		})
	return priv, err
}

// localKey returns the key in the data dir's file name, made by generate
// on the first run; check refuses a file that holds no usable key (its
// error is the message). A key file others can read (made by hand, or by
// an older version) is made owner-only.
func localKey(dataDir, name string, generate func() string, check func(path, key string) error) (string, error) {
	path := filepath.Join(dataDir, name)
	switch b, err := os.ReadFile(path); {
	case err == nil:
		k := strings.TrimSpace(string(b))
		if err := check(path, k); err != nil {
			return "", err
		}
		if err := tighten(path, 0o600); err != nil {
			return "", err
		}
		return k, nil
	case !errors.Is(err, fs.ErrNotExist):
		// A file there that cannot be read must not be replaced (nor
		// retried forever below: O_EXCL finds it).
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", fmt.Errorf("create data dir: %w", err)
	}
	k := generate()
	if err := check(path, k); err != nil {
		return "", err
	}
	// Written whole to a file of our own (CreateTemp makes it 0600), then
	// linked into place: link
	// fails if the name exists, so two processes starting at once never
	// each keep their own key, and neither reads the other's half-written
	// file (as with O_EXCL on the name itself).
	tmp, err := os.CreateTemp(dataDir, "."+name+".*")
	if err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(k + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return localKey(dataDir, name, generate, check)
		}
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return k, nil
}

// prepareDataDir creates the data dir of `up` readable by its owner alone:
// it holds password hashes (auth.db), the session signing key and the
// entry-code signing key. An
// existing directory that others may read is reported, not changed: the
// operator chose it and may share it on purpose (TICKETING_DATA_DIR=/srv),
// and what lies in it is owner-only anyway (the SQLite files, jwt.key,
// ticket-signing.key and the NATS store are made 0600/0700 whatever the directory's mode).
func prepareDataDir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("data dir %s is not a directory", dir)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		log.Warn("the data dir can be listed by other users; its files are owner-only, and `chmod 700` on it hides their names too",
			"path", dir, "mode", fmt.Sprintf("%#o", perm))
	}
	return nil
}

// tighten sets a file's mode to perm when it is anything else.
func tighten(path string, perm os.FileMode) error {
	fi, err := os.Stat(path)
	if err == nil && fi.Mode().Perm() != perm {
		err = os.Chmod(path, perm)
	}
	if err != nil {
		return fmt.Errorf("make %s owner-only: %w", path, err)
	}
	return nil
}
