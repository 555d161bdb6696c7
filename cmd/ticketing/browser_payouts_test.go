package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
)

// TestBrowserPayouts walks a sale to its payouts (a 2 s PAYOUT_HOLD and
// the default fee, 10% + $0.50): the organizer connects a payout account
// on the Payouts page; a buyer buys at face value ($25), connects one too
// and resells the ticket ($27.50) to a second buyer. The organizer moves
// the event to end in seconds, which moves its payout schedule. Once the
// end and the hold have passed, the organizer's Payouts page lists the
// primary sale's payout and the reseller's the resale's, each once, paid,
// for the price, the balance all paid; `ticketing check` finds the books
// balanced with two payouts and the fees ($3.00 and $3.25) kept by the
// platform.
func TestBrowserPayouts(t *testing.T) {
	t.Parallel()
	c, dir := startBrowserUp(t, map[string]string{"PAYOUT_HOLD": "2s"})

	eventPath := c.createEventAsOrganizer(dir, "org@example.com", "Payout Night", "2", "120")
	c.signIn("org@example.com")
	c.connectPayouts()
	c.signOut()

	c.signUp("ann@example.com")
	c.buyAndPay(eventPath)
	primary := c.paidOrder()
	ticketID := c.sellForm()
	c.listResale(ticketID, "27.50")
	c.connectPayouts()
	c.signOut()

	c.signUp("bob@example.com")
	c.eventually("the resale is on sale", 30*time.Second, "/tickets/"+ticketID, "main h1", func() bool {
		return c.exists(`form[action$="/purchase"]`)
	})
	c.checkout("/purchase")
	resale := c.paidOrder()
	c.signOut()

	c.signIn("org@example.com")
	c.endEventSoon(eventPath)
	c.wantPayout("the organizer", primary, "$25.00")
	c.signOut()
	c.signIn("ann@example.com")
	c.wantPayout("the reseller", resale, "$27.50")

	env := testEnv(map[string]string{"TICKETING_DATA_DIR": dir})
	var out string
	natsbustest.Eventually(t, 10*time.Second, "check sees both payouts", func() bool {
		var err error
		out, err = checkBooks(env)
		return err == nil && strings.Contains(out, "2 payouts")
	})
	// Charged $28.00 and $30.75; paid out $25.00 and $27.50.
	for _, want := range []string{"OK: the books balance", "(2 charges, 0 refunds, 2 payouts)",
		"cash 6.25, platform fees 6.25, owed to sellers and organizers 0.00, refund losses 0.00"} {
		if !strings.Contains(out, want) {
			t.Errorf("check after the payouts lacks %q:\n%s", want, out)
		}
	}
}

// connectPayouts connects the signed-in user's payout account from the
// Payouts page (the sandbox's: enabled at once).
func (c *chrome) connectPayouts() {
	c.t.Helper()
	c.do("connect a payout account", 15*time.Second,
		chromedp.Navigate(c.base+"/payouts"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/payouts/connect"] button`)),
		chromedp.Click(chromedp.CSS(`form[action="/payouts/connect"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-status="enabled"]`)),
	)
}

// paidOrder is the id of the signed-in user's paid order (they have one).
func (c *chrome) paidOrder() string {
	c.t.Helper()
	var id string
	natsbustest.Eventually(c.t, 20*time.Second, "the order is complete", func() bool {
		id = chromeRun(c, "the paid order", chromedp.Evaluate[string](
			`fetch("/api/orders").then(r => r.json()).then(os => (os.find(o => o.status === "complete") || {id: ""}).id)`,
			chromedp.EvalAwaitPromise))
		return id != ""
	})
	return id
}

// endEventSoon moves the organizer's event at eventPath, on its edit page,
// to start a few seconds from now and end a second later (in its zone,
// Europe/Amsterdam, to the second: the form sends what is typed).
func (c *chrome) endEventSoon(eventPath string) {
	c.t.Helper()
	amsterdam, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		c.t.Fatal(err)
	}
	// Far enough ahead that the edit reaches events before the start
	// under a loaded machine.
	starts := time.Now().Add(10 * time.Second).In(amsterdam).Truncate(time.Second)
	// Chrome shortens a datetime-local value on a whole minute to HH:MM,
	// which SetValue's read-back takes for a failed set: keep both times
	// off :00.
	for starts.Second() == 0 || starts.Second() == 59 {
		starts = starts.Add(time.Second)
	}
	c.do("move the event", 20*time.Second,
		chromedp.Navigate(c.base+eventPath+"/edit"),
		chromedp.WaitVisible(chromedp.CSS("#startsAt")),
		chromedp.SetValue(chromedp.CSS("#startsAt"), starts.Format("2006-01-02T15:04:05")),
		chromedp.SetValue(chromedp.CSS("#endsAt"), starts.Add(time.Second).Format("2006-01-02T15:04:05")),
		chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(".event-detail h1")),
	)
}

// wantPayout waits until the signed-in user's Payouts page lists a paid
// payout and its balance says amount paid, then wants exactly one payout,
// of order for amount, and the balance all paid.
func (c *chrome) wantPayout(who, order, amount string) {
	c.t.Helper()
	// The page reads the balance and the list in two calls, so one view
	// may show the list a payout ahead of the balance: wait for both.
	c.eventually(who+"'s payout", 60*time.Second, "/payouts", "main h1", func() bool {
		return c.exists(`.payouts [data-status="paid"]`) && c.text(`[data-balance="paid"]`) == amount
	})
	rows := chromeRun(c, "the payouts", chromedp.Evaluate[[]string](
		`[...document.querySelectorAll(".payouts tbody tr")].map(r => r.dataset.order + " " + r.querySelector(".payout-amount").innerText)`))
	if want := order + " " + amount; len(rows) != 1 || rows[0] != want {
		c.t.Errorf("%s's payouts = %q, want one: %q", who, rows, want)
	}
	balance := fmt.Sprintf("held %s available %s paid %s", c.text(`[data-balance="held"]`), c.text(`[data-balance="available"]`), c.text(`[data-balance="paid"]`))
	if want := "held $0.00 available $0.00 paid " + amount; balance != want {
		c.t.Errorf("%s's balance = %q, want %q", who, balance, want)
	}
}
