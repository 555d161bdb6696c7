package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
)

// TestWebPayouts: through `up`, a seller's Payouts page offers Connect;
// the sandbox's account is enabled at once; a sale shows as held (the
// hold runs from the sale for a free-form listing).
func TestWebPayouts(t *testing.T) {
	t.Parallel()
	base, _ := startUp(t, t.TempDir(), nil)
	seller := webSignUp(t, base, "seller@example.com")
	webWant(t, "payouts before connecting", seller.get("/payouts"), http.StatusOK,
		`href="/payouts" aria-current="page"`, "Connect payout account", `data-balance="held">$0.00<`)
	p := seller.follow("connect", seller.post("/payouts/connect", url.Values{}), "/payouts")
	webWant(t, "payouts after connecting", p, http.StatusOK, "Your payout account is connected.", "Payouts enabled")
	if strings.Contains(p.body, `action="/payouts/connect"`) {
		t.Errorf("an enabled account still offers Connect:\n%s", p.body)
	}

	gig := webSell(t, seller, "Gig", "20.50")
	buyer := webSignUp(t, base, "buyer@example.com")
	buyer.get("/tickets/" + gig)
	loc := webRedirect(t, "purchase", buyer.post("/tickets/"+gig+"/purchase", url.Values{}), "/orders/")
	buyer.get(loc)
	webRedirect(t, "pay", buyer.post(loc+"/pay", url.Values{"token": {"tok_visa"}}), "/orders")
	natsbustest.Eventually(t, 10*time.Second, "the sale shows as held", func() bool {
		return strings.Contains(seller.get("/payouts").body, `data-balance="held">$20.50<`)
	})
	webWant(t, "the buyer's payouts", buyer.get("/payouts"), http.StatusOK, `data-balance="held">$0.00<`, "Connect payout account")
}
