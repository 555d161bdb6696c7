package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ticketing/ticketing/internal/payments"
)

// Config is everything the binary reads from its environment. Each field is
// an environment variable (DESIGN.md section 2) and also a flag; a flag wins
// over the variable, the variable over the default.
type Config struct {
	Addr                 string
	DataDir              string
	NATSURL              string
	DatabaseURL          string
	JWTKey               string
	ExpirationWindow     time.Duration
	StripeSecretKey      string
	StripeAPIBase        string
	StripePublishableKey string
	CookieSecure         bool
	AuthRatePerMinute    int
	MaxPendingOrders     int
	// MaxPendingPerAddress bounds the unpaid orders of all the accounts
	// of one client address together; MaxListings a seller's tickets on
	// sale.
	MaxPendingPerAddress int
	MaxListings          int
	TrustedProxies       string
	StreamReplicas       int
	// Fsync is "normal" (crash-safe) or "always" (power-loss safe) for the
	// embedded NATS and SQLite of `up`.
	Fsync     string
	LogLevel  string
	LogFormat string
	// MetricsAddr, when set, serves /metrics on its own listener instead
	// of the main one (so a public ingress never exposes it).
	MetricsAddr string

	// Where `serve gateway` finds each service.
	AuthURL, TicketsURL, OrdersURL, PaymentsURL, WebURL string
	// Where `serve web` reaches the API.
	GatewayURL string

	// provider, when set, replaces the payment provider the keys choose.
	// No variable sets it: tests hand in the sandbox wrapped so that a
	// charge can be held back and lose its race with the expiry on purpose.
	provider payments.Provider
}

// LogValue masks secrets so the config can be logged at start.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("addr", c.Addr),
		slog.String("data_dir", c.DataDir),
		slog.String("nats_url", maskURL(c.NATSURL)),
		slog.String("database_url", maskURL(c.DatabaseURL)),
		slog.Bool("jwt_key_set", c.JWTKey != ""),
		slog.Duration("expiration_window", c.ExpirationWindow),
		slog.Bool("stripe", c.StripeSecretKey != ""),
		slog.String("stripe_api_base", c.StripeAPIBase),
		slog.Bool("cookie_secure", c.CookieSecure),
		slog.Int("auth_rate_per_minute", c.AuthRatePerMinute),
		slog.Int("max_pending_orders", c.MaxPendingOrders),
		slog.Int("max_pending_orders_per_address", c.MaxPendingPerAddress),
		slog.Int("max_listings", c.MaxListings),
		slog.String("trusted_proxies", c.TrustedProxies),
		slog.String("metrics_addr", c.MetricsAddr),
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
	defAddr := "localhost:8080"
	if m == modeServe {
		defAddr = ":8080" // in a container: every interface
	}
	fs.StringVar(&c.Addr, "addr", env("TICKETING_ADDR", defAddr), "listen address (TICKETING_ADDR)")
	fs.StringVar(&c.DataDir, "data-dir", env("TICKETING_DATA_DIR", "./data"), "where embedded NATS and SQLite keep data (TICKETING_DATA_DIR)")
	fs.StringVar(&c.NATSURL, "nats-url", env("NATS_URL", ""), "external NATS; empty means embedded (NATS_URL)")
	fs.StringVar(&c.DatabaseURL, "database-url", env("DATABASE_URL", ""), "PostgreSQL URL; empty means SQLite files in the data dir (DATABASE_URL)")
	fs.StringVar(&c.JWTKey, "jwt-key", env("JWT_KEY", ""), "HMAC key for session tokens; required by serve (JWT_KEY)")
	fs.DurationVar(&c.ExpirationWindow, "expiration-window", envDur("EXPIRATION_WINDOW", 15*time.Minute), "how long an order holds a ticket (EXPIRATION_WINDOW)")
	fs.StringVar(&c.StripeSecretKey, "stripe-secret-key", env("STRIPE_SECRET_KEY", ""), "Stripe secret key; empty means the sandbox provider (STRIPE_SECRET_KEY)")
	fs.StringVar(&c.StripeAPIBase, "stripe-api-base", env("STRIPE_API_BASE", ""), "Stripe API base URL, e.g. stripe-mock (STRIPE_API_BASE)")
	fs.StringVar(&c.StripePublishableKey, "stripe-publishable-key", env("STRIPE_PUBLISHABLE_KEY", ""), "Stripe publishable key: the order page uses Stripe.js (STRIPE_PUBLISHABLE_KEY)")
	fs.BoolVar(&c.CookieSecure, "cookie-secure", envBool("COOKIE_SECURE", m == modeServe), "mark the session cookie Secure (COOKIE_SECURE)")
	fs.IntVar(&c.AuthRatePerMinute, "auth-rate-per-minute", envInt("AUTH_RATE_PER_MINUTE", 30), "sign-in/up attempts per minute per address and per email; 0 = no limit (AUTH_RATE_PER_MINUTE)")
	fs.IntVar(&c.MaxPendingOrders, "max-pending-orders", envInt("MAX_PENDING_ORDERS", 10), "unpaid orders one user may hold, at least 1 (MAX_PENDING_ORDERS)")
	fs.IntVar(&c.MaxPendingPerAddress, "max-pending-orders-per-address", envInt("MAX_PENDING_ORDERS_PER_ADDRESS", 30), "unpaid orders the accounts of one client address may hold together, at least 1 (MAX_PENDING_ORDERS_PER_ADDRESS)")
	fs.IntVar(&c.MaxListings, "max-listings", envInt("MAX_LISTINGS", 200), "tickets one seller may have on sale at once, at least 1 (MAX_LISTINGS)")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", env("TRUSTED_PROXIES", ""), "CIDRs whose X-Forwarded-For is believed (TRUSTED_PROXIES)")
	fs.IntVar(&c.StreamReplicas, "stream-replicas", envInt("NATS_STREAM_REPLICAS", 1), "replicas of the TICKETING stream in a NATS cluster (NATS_STREAM_REPLICAS)")
	fs.StringVar(&c.Fsync, "fsync", env("TICKETING_FSYNC", "normal"), "normal: a process crash loses nothing; always: a power loss neither, slower (TICKETING_FSYNC)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", env("METRICS_ADDR", ""), "serve /metrics on this address instead of the main one (METRICS_ADDR)")
	fs.StringVar(&c.LogLevel, "log-level", env("LOG_LEVEL", "info"), "debug, info, warn or error (LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", env("LOG_FORMAT", "text"), "text or json (LOG_FORMAT)")
	fs.StringVar(&c.AuthURL, "auth-url", env("AUTH_URL", "http://auth:8080"), "serve gateway: the auth service (AUTH_URL)")
	fs.StringVar(&c.TicketsURL, "tickets-url", env("TICKETS_URL", "http://tickets:8080"), "serve gateway: the tickets service (TICKETS_URL)")
	fs.StringVar(&c.OrdersURL, "orders-url", env("ORDERS_URL", "http://orders:8080"), "serve gateway: the orders service (ORDERS_URL)")
	fs.StringVar(&c.PaymentsURL, "payments-url", env("PAYMENTS_URL", "http://payments:8080"), "serve gateway: the payments service (PAYMENTS_URL)")
	fs.StringVar(&c.WebURL, "web-url", env("WEB_URL", "http://web:8080"), "serve gateway: the web client (WEB_URL)")
	fs.StringVar(&c.GatewayURL, "gateway-url", env("GATEWAY_URL", "http://gateway:8080"), "serve web: the gateway the pages call the API through (GATEWAY_URL)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.Fsync != "normal" && c.Fsync != "always" {
		errs = append(errs, fmt.Errorf("TICKETING_FSYNC=%q: want normal or always", c.Fsync))
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
	if c.MaxListings < 1 {
		errs = append(errs, fmt.Errorf("MAX_LISTINGS=%d: want at least 1", c.MaxListings))
	}
	if c.StreamReplicas < 1 || c.StreamReplicas > 5 {
		errs = append(errs, fmt.Errorf("NATS_STREAM_REPLICAS=%d: want 1 to 5 (JetStream's range)", c.StreamReplicas))
	}
	return c, errors.Join(errs...)
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

// localJWTKey returns the key kept in the data dir, generating it on the
// first run, so sessions survive a restart of `up`.
func localJWTKey(dataDir string) ([]byte, error) {
	path := filepath.Join(dataDir, "jwt.key")
	if b, err := os.ReadFile(path); err == nil {
		if k := strings.TrimSpace(string(b)); len(k) >= 32 {
			return []byte(k), nil
		}
		return nil, fmt.Errorf("%s is shorter than 32 characters: delete it to get a new one", path)
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	k := hex.EncodeToString(key)
	// O_EXCL: two processes starting at once must not each write their own.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if os.IsExist(err) {
			return localJWTKey(dataDir)
		}
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	defer f.Close()
	if _, err := f.WriteString(k + "\n"); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return []byte(k), f.Sync()
}
