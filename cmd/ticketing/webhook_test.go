package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"
	"github.com/ticketing/ticketing/internal/payments"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
)

// testWebhookSecret is the Stripe webhook signing secret of the tests.
const testWebhookSecret = "whsec_up_test_secret"

// chargeRecorder is a provider that remembers the ids of its charges.
type chargeRecorder struct {
	payments.Provider
	mu  sync.Mutex
	ids []string
}

func (c *chargeRecorder) Charge(ctx context.Context, req payments.ChargeRequest) (payments.Charge, error) {
	ch, err := c.Provider.Charge(ctx, req)
	if err == nil {
		c.mu.Lock()
		c.ids = append(c.ids, ch.ID)
		c.mu.Unlock()
	}
	return ch, err
}

func (c *chargeRecorder) last() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.ids) == 0 {
		return ""
	}
	return c.ids[len(c.ids)-1]
}

// postWebhook sends body to base's webhook as Stripe does: no session,
// signed with secret ("": no signature).
func postWebhook(t *testing.T, base string, body []byte, secret string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/api/payments/webhook", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if secret != "" {
		req.Header.Set("Stripe-Signature", webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret}).Header)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// disputeBody is a charge.dispute.created event about chargeID.
func disputeBody(eventID, chargeID string) []byte {
	b, _ := json.Marshal(map[string]any{
		"id": eventID, "object": "event", "api_version": stripe.APIVersion, "created": time.Now().Unix(),
		"livemode": false, "pending_webhooks": 1, "type": "charge.dispute.created",
		"data": map[string]any{"object": map[string]any{
			"id": "dp_" + eventID, "object": "dispute", "amount": 4000, "currency": "usd", "charge": chargeID,
			"payment_intent": nil, "reason": "fraudulent", "status": "needs_response",
		}},
	})
	return b
}

// TestUpWebhookDispute: through `up`, Stripe's call of the webhook (no
// session, through the gateway) with a dispute of a paid issued ticket's
// charge voids the ticket's code; an unsigned call is a JSON 400.
func TestUpWebhookDispute(t *testing.T) {
	t.Parallel()
	const key = "webhook-test-key-webhook-test-ke"
	rec := &chargeRecorder{Provider: payments.NewSandbox()}
	base, _ := startUpConfig(t, t.TempDir(), map[string]string{"JWT_KEY": key, "STRIPE_WEBHOOK_SECRET": testWebhookSecret},
		func(c *Config) { c.provider = rec })
	org := signUp(t, base, "org@example.com")
	asOrganizer(t, org, key)
	buyer := signUp(t, base, "buyer@example.com")
	ticket := buyHeld(t, buyer, createOnSaleEvent(t, org, "Disputed night", 1))
	if got := buyer.do("GET", "/api/tickets/"+ticket+"/code", nil, nil); got != http.StatusOK {
		t.Fatalf("code before the dispute = %d", got)
	}
	charge := rec.last()
	if charge == "" {
		t.Fatal("no charge recorded")
	}

	body := disputeBody("evt_up_dispute", charge)
	if st, b := postWebhook(t, base, body, ""); st != http.StatusBadRequest || !strings.Contains(b, `"bad_signature"`) {
		t.Fatalf("unsigned webhook = %d %s, want 400 bad_signature", st, b)
	}
	if st, b := postWebhook(t, base, body, "whsec_wrong"); st != http.StatusBadRequest {
		t.Fatalf("webhook signed with another secret = %d %s, want 400", st, b)
	}
	for range 2 {
		if st, b := postWebhook(t, base, body, testWebhookSecret); st != http.StatusOK {
			t.Fatalf("dispute = %d %s, want 200", st, b)
		}
	}
	natsbustest.Eventually(t, 15*time.Second, "the disputed ticket's code is void", func() bool {
		return buyer.do("GET", "/api/tickets/"+ticket+"/code", nil, nil) == http.StatusConflict
	})
	var held issuedJSON
	buyer.do("GET", "/api/tickets/"+ticket, nil, &held)
	if held.Status != "void" {
		t.Fatalf("disputed ticket = %+v, want void", held)
	}
}

// TestStripeNeedsWebhookSecret: the Stripe provider without the webhook's
// secret does not start (a dispute would never be heard of).
func TestStripeNeedsWebhookSecret(t *testing.T) {
	t.Parallel()
	cfg, err := parseConfig(flag.NewFlagSet("test", flag.ContinueOnError), nil, testEnv(map[string]string{
		"TICKETING_ADDR": "127.0.0.1:0", "TICKETING_DATA_DIR": t.TempDir(), "STRIPE_SECRET_KEY": "sk_test_123",
	}), modeUp)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	app, err := Up(ctx, cfg, testLogger(t))
	if err == nil {
		app.Close(context.Background())
		t.Fatal("up started with STRIPE_SECRET_KEY and no STRIPE_WEBHOOK_SECRET")
	}
	if !strings.Contains(err.Error(), "STRIPE_WEBHOOK_SECRET") {
		t.Fatalf("up: %v, want it to name STRIPE_WEBHOOK_SECRET", err)
	}
}
