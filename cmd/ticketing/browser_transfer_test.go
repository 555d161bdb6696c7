package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserTransfer walks a transfer as people do it (DESIGN.md 9.3):
// the buyer transfers their ticket to a friend's email from My tickets,
// the friend signs up with that email, finds it offered and accepts it;
// the ticket's history says how they got it, and at the door the first
// buyer's code is void and the friend's admitted.
func TestBrowserTransfer(t *testing.T) {
	t.Parallel()
	c, dir := startBrowserUp(t, nil)

	eventPath := c.createEventAsOrganizer(dir, "org@example.com", "Transfer Night", "1", "")

	c.signUp("ann@example.com")
	c.buyAndPay(eventPath)
	c.eventually("My tickets offers Transfer", 30*time.Second, "/tickets/mine", "main h1", func() bool {
		return c.exists(".entry-code svg") && c.exists(`form[action$="/transfer"]`)
	})
	annShort := c.text(".short-code")
	action := chromeRun(c, "the Transfer form", chromedp.Evaluate[string](`document.querySelector('form[action$="/transfer"]').getAttribute("action")`))
	ticketID := strings.TrimSuffix(strings.TrimPrefix(action, "/tickets/"), "/transfer")
	c.do("transfer to oneself", 15*time.Second,
		chromedp.SendKeys(chromedp.CSS("#email-"+ticketID), "ann@example.com"),
		chromedp.Click(chromedp.CSS(`form[action$="/transfer"] button`)),
		chromedp.WaitVisible(chromedp.CSS(".held-ticket .field-error")),
	)
	if got := c.text(".held-ticket .field-error"); !strings.Contains(got, "someone else") {
		t.Errorf("the refusal beside the email says %q", got)
	}
	c.do("transfer to a friend", 15*time.Second,
		chromedp.Clear(chromedp.CSS("#email-"+ticketID)),
		chromedp.SendKeys(chromedp.CSS("#email-"+ticketID), "Bob@example.com"),
		chromedp.Click(chromedp.CSS(`form[action$="/transfer"] button`)),
		chromedp.WaitVisible(chromedp.CSS(".transfer-status")),
	)
	if got := c.text(".transfer-status"); !strings.Contains(got, "bob@example.com") {
		t.Errorf("the pending transfer says %q", got)
	}
	if !c.exists(`form[action$="/cancel"]`) || c.exists(`form[action$="/resale"]`) {
		t.Error("a pending transfer should offer Cancel transfer and no Sell")
	}
	c.signOut()

	c.signUp("bob@example.com")
	c.do("accept the transfer", 20*time.Second,
		chromedp.Navigate(c.base+"/tickets/mine"),
		chromedp.WaitVisible(chromedp.CSS("#incoming-title")),
		chromedp.Click(chromedp.CSS(`form[action$="/accept"] button`)),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
	)
	c.eventually("the friend holds the ticket", 30*time.Second, "/tickets/mine", "main h1", func() bool {
		return c.exists("#ticket-" + ticketID + " .entry-code svg")
	})
	bobShort := c.text(".short-code")
	if bobShort == annShort {
		t.Fatalf("the transferred ticket kept its code %s", annShort)
	}
	c.do("open the history", 10*time.Second,
		chromedp.Click(chromedp.CSS(`a[href="/tickets/`+ticketID+`/history"]`)),
		chromedp.WaitVisible(chromedp.CSS(".ticket-history h1")),
	)
	if got := c.text("table.history"); !strings.Contains(got, "Received by transfer") || !strings.Contains(got, "You") || strings.Contains(got, "Bought from the organizer") {
		t.Errorf("the friend's history says %q, want only their own entry", got)
	}
	c.signOut()

	c.signIn("org@example.com")
	scan := func(code, want string) string {
		t.Helper()
		c.do("scan "+code, 15*time.Second,
			chromedp.WaitVisible(chromedp.CSS("#code")),
			chromedp.SendKeys(chromedp.CSS("#code"), code+"\n"),
			chromedp.WaitVisible(chromedp.CSS(".door-"+want)),
		)
		return c.text("#door-result")
	}
	c.do("open the door page", 10*time.Second, chromedp.Navigate(c.base+eventPath+"/checkin"), chromedp.WaitVisible(chromedp.CSS("#code")))
	if r := scan(annShort, "void"); !strings.Contains(r, "VOID") {
		t.Errorf("the sender's code says %q", r)
	}
	if r := scan(bobShort, "admitted"); !strings.Contains(r, "ADMITTED") {
		t.Errorf("the friend's code says %q", r)
	}
}
