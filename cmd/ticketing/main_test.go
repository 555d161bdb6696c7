package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
)

// testEnv is a getenv for tests: only the given variables exist.
func testEnv(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// startUp runs the real `up` wiring on a random port with a temp data dir
// (or the given one) and returns its base URL.
func startUp(t *testing.T, dataDir string, vars map[string]string) (string, *App) {
	t.Helper()
	return startUpConfig(t, dataDir, vars, nil)
}

// startUpConfig is startUp with edit applied to the parsed configuration,
// for what no variable sets.
func startUpConfig(t *testing.T, dataDir string, vars map[string]string, edit func(*Config)) (string, *App) {
	t.Helper()
	return startUpLogged(t, dataDir, vars, edit, testLogger(t))
}

// startUpLogged is startUpConfig logging to log, for a test that reads
// what the parts logged.
func startUpLogged(t *testing.T, dataDir string, vars map[string]string, edit func(*Config), log *slog.Logger) (string, *App) {
	t.Helper()
	env := map[string]string{
		"TICKETING_ADDR":       "127.0.0.1:0",
		"TICKETING_DATA_DIR":   dataDir,
		"AUTH_RATE_PER_MINUTE": "0",
	}
	for k, v := range vars {
		env[k] = v
	}
	cfg, err := parseConfig(flag.NewFlagSet("test", flag.ContinueOnError), nil, testEnv(env), modeUp)
	if err != nil {
		t.Fatal(err)
	}
	cfg.passwordHashing = &testPasswordHashing
	if edit != nil {
		edit(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	app, err := Up(ctx, cfg, log)
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	t.Cleanup(func() {
		app.Close(context.Background())
	})
	return "http://" + app.Addr(), app
}

// testPasswordHashing is the argon2id cost of the systems tests start in
// this process: the least argon2id allows. Hashing with OWASP's
// parameters allocates 19 MiB per sign-up and sign-in, and the collector
// then scanned every running system's heap so often that it and the
// hashing took over half of this package's CPU. Auth's own tests, and
// the systems started as processes, keep the real cost.
var testPasswordHashing = argon2id.Params{Memory: 8, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// testLogger logs to stderr at debug level under -v; otherwise it keeps
// warnings and errors and prints the last of them if the test fails, so a
// failure in CI comes with what the parts complained of.
func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	kept := &logTail{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the last warnings logged:\n%s", kept.String())
		}
	})
	return slog.New(slog.NewTextHandler(kept, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// logTail keeps the last 64 KiB written to it.
type logTail struct {
	mu  sync.Mutex
	buf []byte
}

func (l *logTail) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	const keep = 64 << 10
	l.buf = append(l.buf, p...)
	if len(l.buf) > keep {
		l.buf = append(l.buf[:0], l.buf[len(l.buf)-keep:]...)
	}
	return len(p), nil
}

func (l *logTail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.buf)
}

// client is a browser-like HTTP client with a cookie jar.
type client struct {
	t    *testing.T
	base string
	http *http.Client
}

func newClient(t *testing.T, base string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: base, http: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

// do sends a JSON request and decodes a JSON answer into out (if not nil).
func (c *client) do(method, path string, body any, out any) int {
	c.t.Helper()
	status, err := c.try(method, path, body, out)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return status
}

// try is do for a server that may be gone: a transport error is returned,
// not fatal. It is safe to call from other goroutines.
func (c *client) try(method, path string, body any, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode %q: %w", raw, err)
		}
	}
	return resp.StatusCode, nil
}

type currentUser struct {
	CurrentUser *struct {
		ID    string `json:"id"`
		Email string `json:"email"`
	} `json:"currentUser"`
}

func TestUpAuthThroughGatewaySurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base, app := startUp(t, dir, nil)
	c := newClient(t, base)

	for _, path := range []string{"/healthz", "/readyz"} {
		if got := c.do("GET", path, nil, nil); got != http.StatusOK {
			t.Fatalf("GET %s = %d, want 200", path, got)
		}
	}
	var user struct{ ID, Email string }
	if got := c.do("POST", "/api/users/signup", map[string]string{"email": "Ann@Example.com ", "password": "correct horse"}, &user); got != http.StatusCreated {
		t.Fatalf("signup = %d, want 201", got)
	}
	if user.Email != "ann@example.com" || user.ID == "" {
		t.Fatalf("signup body = %+v", user)
	}
	var cu currentUser
	c.do("GET", "/api/users/currentuser", nil, &cu)
	if cu.CurrentUser == nil || cu.CurrentUser.ID != user.ID {
		t.Fatalf("currentuser after signup = %+v", cu.CurrentUser)
	}
	var errBody struct{ Errors []struct{ Message string } }
	if got := c.do("GET", "/api/nowhere", nil, &errBody); got != http.StatusNotFound || len(errBody.Errors) != 1 {
		t.Fatalf("unknown route = %d %+v, want JSON 404", got, errBody)
	}

	// A restart on the same data dir keeps the users and the signing key, so
	// the session cookie the client holds stays valid.
	if err := app.Close(context.Background()); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := app.Close(context.Background()); err != nil {
		t.Fatalf("second close: %v, want the first one's nil", err)
	}
	base2, _ := startUp(t, dir, nil)
	c.base = base2
	cu = currentUser{}
	c.do("GET", "/api/users/currentuser", nil, &cu)
	if cu.CurrentUser == nil || cu.CurrentUser.ID != user.ID {
		t.Fatalf("currentuser after restart = %+v, want the same user", cu.CurrentUser)
	}
	c2 := newClient(t, base2)
	if got := c2.do("POST", "/api/users/signin", map[string]string{"email": "ann@example.com", "password": "correct horse"}, nil); got != http.StatusOK {
		t.Fatalf("signin after restart = %d, want 200", got)
	}
}

func TestUpRefusesCrossOriginWrites(t *testing.T) {
	t.Parallel()
	base, _ := startUp(t, t.TempDir(), nil)
	req, _ := http.NewRequest("POST", base+"/api/users/signup", strings.NewReader(`{"email":"a@b.co","password":"12345678"}`))
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin signup = %d, want 403", resp.StatusCode)
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
		wantOut string
	}{
		{name: "help", args: []string{"--help"}, wantOut: "ticketing up"},
		{name: "version", args: []string{"version"}, wantOut: "ticketing"},
		{name: "no command", args: nil, wantErr: "missing command"},
		{name: "unknown command", args: []string{"down"}, wantErr: `unknown command "down"`},
		{name: "serve without part", args: []string{"serve"}, wantErr: "serve needs a part"},
		{name: "serve without JWT_KEY", args: []string{"serve", "auth"}, env: map[string]string{"NATS_URL": "nats://127.0.0.1:1"}, wantErr: "JWT_KEY"},
		{name: "serve short JWT_KEY", args: []string{"serve", "auth"}, env: map[string]string{"JWT_KEY": "short"}, wantErr: "JWT_KEY"},
		{name: "serve unknown part", args: []string{"serve", "billing"}, env: map[string]string{"JWT_KEY": strings.Repeat("k", 32)}, wantErr: `unknown part "billing"`},
		{name: "serve without NATS_URL", args: []string{"serve", "tickets"}, env: map[string]string{"JWT_KEY": strings.Repeat("k", 32), "TICKET_SIGNING_KEY": testTicketSigningKey}, wantErr: "NATS_URL"},
		{name: "serve tickets without TICKET_SIGNING_KEY", args: []string{"serve", "tickets"}, env: map[string]string{"JWT_KEY": strings.Repeat("k", 32), "NATS_URL": "nats://127.0.0.1:1"}, wantErr: "serve tickets needs TICKET_SIGNING_KEY"},
		{name: "serve auth needs no TICKET_SIGNING_KEY", args: []string{"serve", "auth"}, env: map[string]string{"JWT_KEY": strings.Repeat("k", 32)}, wantErr: "NATS_URL"},
		{name: "serve malformed TICKET_SIGNING_KEY", args: []string{"serve", "auth"}, env: map[string]string{"JWT_KEY": strings.Repeat("k", 32), "TICKET_SIGNING_KEY": strings.Repeat("k", 64)}, wantErr: "TICKET_SIGNING_KEY is not a ticket signing key: want the base64 of a 32-byte Ed25519 seed"},
		{name: "up malformed TICKET_SIGNING_KEY", args: []string{"up"}, env: map[string]string{"TICKET_SIGNING_KEY": "c2hvcnQ="}, wantErr: "or leave it empty to have one generated"},
		{name: "up malformed TICKET_SIGNING_KEY by flag", args: []string{"up", "-ticket-signing-key", "x"}, wantErr: "TICKET_SIGNING_KEY is not a ticket signing key"},
		{name: "bad window", args: []string{"up"}, env: map[string]string{"EXPIRATION_WINDOW": "soon"}, wantErr: "EXPIRATION_WINDOW"},
		{name: "bad rate", args: []string{"up"}, env: map[string]string{"AUTH_RATE_PER_MINUTE": "-1"}, wantErr: "AUTH_RATE_PER_MINUTE"},
		{name: "bad flag", args: []string{"up", "-no-such-flag"}, wantErr: "no-such-flag"},
		{name: "bad log level", args: []string{"up", "-log-level", "loud"}, wantErr: "LOG_LEVEL"},
		{name: "serve web with a bad GATEWAY_URL", args: []string{"serve", "web"}, env: map[string]string{"JWT_KEY": strings.Repeat("k", 32), "GATEWAY_URL": "gateway:8080"}, wantErr: "GATEWAY_URL"},
		{name: "no pending orders allowed", args: []string{"up"}, env: map[string]string{"MAX_PENDING_ORDERS": "0"}, wantErr: "MAX_PENDING_ORDERS"},
		{name: "no pending orders allowed by flag", args: []string{"up", "-max-pending-orders", "0"}, wantErr: "MAX_PENDING_ORDERS"},
		{name: "no pending orders per address allowed", args: []string{"up"}, env: map[string]string{"MAX_PENDING_ORDERS_PER_ADDRESS": "0"}, wantErr: "MAX_PENDING_ORDERS_PER_ADDRESS"},
		{name: "no listings allowed", args: []string{"up", "-max-listings", "0"}, wantErr: "MAX_LISTINGS"},
		{name: "stream replicas out of range", args: []string{"up"}, env: map[string]string{"NATS_STREAM_REPLICAS": "7"}, wantErr: "NATS_STREAM_REPLICAS"},
		{name: "up short JWT_KEY", args: []string{"up"}, env: map[string]string{"JWT_KEY": strings.Repeat("k", 31)}, wantErr: "JWT_KEY is 31 characters: want at least 32"},
		{name: "up short JWT_KEY by flag", args: []string{"up", "-jwt-key", "short"}, wantErr: "JWT_KEY is 5 characters"},
		{name: "bad fsync", args: []string{"up"}, env: map[string]string{"TICKETING_FSYNC": "sometimes"}, wantErr: "TICKETING_FSYNC"},
		{name: "pprof without METRICS_ADDR", args: []string{"up"}, env: map[string]string{"PPROF": "true"}, wantErr: "PPROF=true needs METRICS_ADDR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // nothing here may start serving
			err := run(ctx, tt.args, testEnv(tt.env), &out, &errOut)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("err = %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Fatalf("stdout = %q, want it to contain %q", out.String(), tt.wantOut)
			}
		})
	}
}

func TestConfigFlagBeatsEnvAndMasksSecrets(t *testing.T) {
	t.Parallel()
	env := testEnv(map[string]string{"TICKETING_ADDR": "env:1", "DATABASE_URL": "postgres://u:secret@db/x", "JWT_KEY": strings.Repeat("topsecret", 4),
		"TICKET_SIGNING_KEY": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI="})
	cfg, err := parseConfig(flag.NewFlagSet("t", flag.ContinueOnError), []string{"-addr", "flag:2"}, env, modeServe)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "flag:2" || !cfg.CookieSecure {
		t.Fatalf("addr = %q cookieSecure = %v, want flag:2 and true (serve)", cfg.Addr, cfg.CookieSecure)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("cfg", "config", cfg)
	if cfg.TicketSigningKey == nil {
		t.Fatal("TICKET_SIGNING_KEY was not parsed")
	}
	if strings.Contains(buf.String(), "secret") || strings.Contains(buf.String(), "c2VjcmV0") || !strings.Contains(buf.String(), "u:***@db") {
		t.Fatalf("logged config leaks or hides too much: %s", buf.String())
	}
}

// TestConfigLogValueCoversEveryField: the start-up log line names every
// setting, so a field added to Config without a line in LogValue fails here.
func TestConfigLogValueCoversEveryField(t *testing.T) {
	t.Parallel()
	exported := 0
	for f := range reflect.TypeFor[Config]().Fields() {
		if f.IsExported() {
			exported++
		}
	}
	if got := len(Config{}.LogValue().Group()); got != exported {
		t.Errorf("LogValue logs %d fields, Config has %d exported: log the new one (masked if secret)", got, exported)
	}
}

// TestConfigDefaults pins the defaults README.md's configuration table
// promises, in both modes: a change to one is a change to that table too.
func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	for _, m := range []struct {
		name string
		mode mode
	}{{"up", modeUp}, {"serve", modeServe}} {
		cfg, err := parseConfig(flag.NewFlagSet(m.name, flag.ContinueOnError), nil,
			testEnv(map[string]string{"JWT_KEY": strings.Repeat("k", 32)}), m.mode)
		if err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
		for _, d := range []struct {
			name      string
			got, want int
		}{
			{"MAX_PENDING_ORDERS", cfg.MaxPendingOrders, 10},
			{"MAX_PENDING_ORDERS_PER_ADDRESS", cfg.MaxPendingPerAddress, 30},
			{"MAX_LISTINGS", cfg.MaxListings, 200},
			{"SERVICE_FEE_PERCENT (hundredths)", int(cfg.ServiceFee.Basis), 1000},
			{"SERVICE_FEE_CENTS", int(cfg.ServiceFee.Fixed), 50},
			{"PAYOUT_HOLD (hours)", int(cfg.PayoutHold / time.Hour), 48},
		} {
			if d.got != d.want {
				t.Errorf("%s: %s defaults to %d, want %d", m.name, d.name, d.got, d.want)
			}
		}
	}
}

// The service fee's settings are checked at start like the others: a
// percent from 0 to 100 with at most two decimals, whole cents >= 0.
func TestConfigServiceFee(t *testing.T) {
	t.Parallel()
	parse := func(vars map[string]string) (Config, error) {
		return parseConfig(flag.NewFlagSet("test", flag.ContinueOnError), nil, testEnv(vars), modeUp)
	}
	cfg, err := parse(map[string]string{"SERVICE_FEE_PERCENT": "2.9", "SERVICE_FEE_CENTS": "30"})
	if err != nil || cfg.ServiceFee.Basis != 290 || cfg.ServiceFee.Fixed != 30 {
		t.Fatalf("2.9%% + 30 = %+v, %v", cfg.ServiceFee, err)
	}
	if cfg, err := parse(map[string]string{"SERVICE_FEE_PERCENT": "0", "SERVICE_FEE_CENTS": "0"}); err != nil || cfg.ServiceFee.Fee(1000) != 0 {
		t.Fatalf("no fee = %+v, %v", cfg.ServiceFee, err)
	}
	for _, bad := range []map[string]string{
		{"SERVICE_FEE_PERCENT": "101"},
		{"SERVICE_FEE_PERCENT": "-1"},
		{"SERVICE_FEE_PERCENT": "2.999"},
		{"SERVICE_FEE_PERCENT": "ten"},
		{"SERVICE_FEE_CENTS": "-5"},
		{"SERVICE_FEE_CENTS": "0.5"},
		{"SERVICE_FEE_CENTS": "1000001"},
		{"PAYOUT_HOLD": "0s"},
		{"PAYOUT_HOLD": "-1h"},
		{"PAYOUT_HOLD": "two days"},
	} {
		_, err := parse(bad)
		for name := range bad {
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%v: err %v, want one naming %s", bad, err, name)
			}
		}
	}
}
