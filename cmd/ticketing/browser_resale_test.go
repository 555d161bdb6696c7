package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserResale: a buyer of an event's ticket sells it from My
// tickets — a price above the organizer's cap is refused beside the
// field, the price typed kept; within it the ticket is listed. Another
// buyer finds it as a verified resale on its ticket page (face value,
// cap, price), purchases and pays; they hold it with a new code. At the
// door the first buyer's code is void and the second's admitted.
func TestBrowserResale(t *testing.T) {
	t.Parallel()
	c, dir := startBrowserUp(t, nil)

	eventPath := c.createEventAsOrganizer(dir, "org@example.com", "Resale Night", "2", "120")

	// The first buyer buys, pays and sells.
	c.signUp("ann@example.com")
	c.buyAndPay(eventPath)
	ticketID := c.sellForm()
	annShort := c.text(".short-code")
	if card := c.text(".held-ticket"); !strings.Contains(card, "Face value $25.00") || !strings.Contains(card, "$30.00") {
		t.Errorf("the Sell form does not show the face value and the cap: %q", card)
	}
	priceField := "#price-" + ticketID
	c.do("sell above the cap", 15*time.Second,
		chromedp.SendKeys(chromedp.CSS(priceField), "31"),
		chromedp.Click(chromedp.CSS(`form[action$="/resale"] button`)),
		chromedp.WaitVisible(chromedp.CSS(".held-ticket .field-error")),
	)
	if got := c.text(".held-ticket .field-error"); !strings.Contains(got, "resale cap") {
		t.Errorf("the refusal beside the price says %q", got)
	}
	kept := chromeRun(c, "the price kept", chromedp.Evaluate[string](`document.querySelector("`+priceField+`").value`))
	if kept != "31" {
		t.Errorf("the refused price field holds %q, want what was typed", kept)
	}
	c.listResale(ticketID, "27,50")
	if !c.exists(`form[action$="/resale/withdraw"]`) {
		t.Error("the listed ticket offers no Withdraw listing")
	}
	c.signOut()

	// Another buyer finds it as a verified resale and buys it.
	c.signUp("bob@example.com")
	resale := `#event-resales a[href="/tickets/` + ticketID + `"]`
	c.do("find the resale on the event's page", 20*time.Second,
		chromedp.Navigate(c.base+eventPath),
		chromedp.WaitVisible(chromedp.CSS(resale)),
	)
	if got := c.text("#event-resales"); !strings.Contains(got, "Verified resale") || !strings.Contains(got, "$27.50") {
		t.Errorf("the event's page shows its resales as %q", got)
	}
	c.do("open the resale", 10*time.Second,
		chromedp.Click(chromedp.CSS(resale)),
		chromedp.WaitVisible(chromedp.CSS(".ticket-detail h1")),
	)
	c.eventually("the ticket page shows the resale", 30*time.Second, "/tickets/"+ticketID, "main h1", func() bool {
		return c.exists(`form[action$="/purchase"]`)
	})
	// What the reader sees: the labels are set in capitals by the style.
	page := strings.ToLower(c.text("main"))
	for _, want := range []string{"Verified resale", "Face value", "$25.00", "Resale cap", "$30.00", "$27.50", "Resale Night"} {
		if !strings.Contains(page, strings.ToLower(want)) {
			t.Errorf("the resale's ticket page does not say %q: %q", want, page)
		}
	}
	c.checkout("/purchase")
	c.eventually("the second buyer holds the ticket", 30*time.Second, "/tickets/mine", "main h1", func() bool {
		return c.exists("#ticket-" + ticketID + " .entry-code svg")
	})
	bobShort := c.text(".short-code")
	if bobShort == annShort {
		t.Fatalf("the resold ticket kept its code %s", annShort)
	}
	c.signOut()

	// At the door: the seller's code is void, the buyer's admits.
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
		t.Errorf("the seller's code says %q", r)
	}
	if r := scan(bobShort, "admitted"); !strings.Contains(r, "ADMITTED") {
		t.Errorf("the buyer's code says %q", r)
	}
}

// sellForm waits until My tickets shows the caller's one ticket with its
// code and Sell form, and returns the ticket's id.
func (c *chrome) sellForm() string {
	c.t.Helper()
	c.eventually("My tickets offers Sell", 30*time.Second, "/tickets/mine", "main h1", func() bool {
		return c.exists(".entry-code svg") && c.exists(`form[action$="/resale"]`)
	})
	action := chromeRun(c, "the Sell form", chromedp.Evaluate[string](`document.querySelector('form[action$="/resale"]').getAttribute("action")`))
	return strings.TrimSuffix(strings.TrimPrefix(action, "/tickets/"), "/resale")
}

// listResale lists the ticket for resale at price (as typed) from My
// tickets' Sell form, and checks that it says so.
func (c *chrome) listResale(ticketID, price string) {
	c.t.Helper()
	field := "#price-" + ticketID
	c.do("sell at "+price, 15*time.Second,
		chromedp.Clear(chromedp.CSS(field)),
		chromedp.SendKeys(chromedp.CSS(field), price),
		chromedp.Click(chromedp.CSS(`form[action$="/resale"] button`)),
		chromedp.WaitVisible(chromedp.CSS(".resale-status")),
	)
	want := "Listed for resale at $" + strings.ReplaceAll(price, ",", ".")
	if got := c.text(".resale-status"); !strings.Contains(got, want) {
		c.t.Errorf("the listed ticket says %q, want %q", got, want)
	}
}
