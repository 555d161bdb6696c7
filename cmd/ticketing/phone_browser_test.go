package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
)

// phoneLayout is what the page reports of its layout on a phone.
type phoneLayout struct {
	ScrollWidth, InnerWidth int
	// TableScrolls: the orders table scrolls sideways inside its box.
	TableScrolls bool
	// HeaderRows is how many rows the header's items take.
	HeaderRows int
	Orders     []struct {
		Title, Status, When string
		// Visible: the status badge lies inside the viewport.
		Visible bool
	}
}

// layoutJS measures the page: the document's width against the viewport,
// the header's rows (items whose vertical extents overlap share a row), and
// each order's row of My Orders.
const layoutJS = `(() => {
	// The items shown: one hidden on a phone (display none) has no box.
	const items = [document.querySelector(".brand"), ...document.querySelectorAll(".nav > li")].filter(e => e.getClientRects().length);
	const rows = [];
	for (const r of items.map(e => e.getBoundingClientRect())) {
		const row = rows.find(x => r.top < x.bottom && x.top < r.bottom);
		if (row) { row.top = Math.min(row.top, r.top); row.bottom = Math.max(row.bottom, r.bottom); }
		else rows.push({top: r.top, bottom: r.bottom});
	}
	const wrap = document.querySelector(".table-wrap");
	return JSON.stringify({
		ScrollWidth: document.documentElement.scrollWidth,
		InnerWidth: window.innerWidth,
		TableScrolls: !!wrap && wrap.scrollWidth > wrap.clientWidth,
		HeaderRows: rows.length,
		Orders: [...document.querySelectorAll("tbody tr")].map(tr => {
			const badge = tr.querySelector("[data-status]");
			const b = badge.getBoundingClientRect();
			return {
				Title: tr.querySelector("td a").innerText.trim(),
				Status: badge.dataset.status,
				When: tr.querySelector(".order-when").innerText.trim(),
				Visible: b.left >= 0 && b.right <= window.innerWidth,
			};
		}),
	});
})()`

// TestBrowserPhoneOrders: on a 390×844 phone, My Orders fits the screen
// without sideways scrolling, every order's status in view, each saying
// what matters for its status; the signed-in header is one row.
func TestBrowserPhoneOrders(t *testing.T) {
	t.Parallel()
	findChromium(t)
	base, _ := startUp(t, t.TempDir(), map[string]string{"EXPIRATION_WINDOW": "3m"})
	seller := signUp(t, base, "seller@example.com")
	buyer := signUp(t, base, "buyer.with.a.long.address@example.com")
	const (
		paidTitle      = "Concert, row F"
		cancelledTitle = "Philharmonic orchestra, season finale, balcony row F, seats 11 and 12"
		waitingTitle   = "Jazz festival day pass"
	)
	_, paid := sellAndReserve(t, seller, buyer, paidTitle)
	_, cancelled := sellAndReserve(t, seller, buyer, cancelledTitle)
	sellAndReserve(t, seller, buyer, waitingTitle)
	if got := pay(t, buyer, paid.ID, "tok_visa"); got != http.StatusCreated {
		t.Fatalf("pay = %d", got)
	}
	if got := buyer.do("DELETE", "/api/orders/"+cancelled.ID, nil, nil); got != http.StatusNoContent {
		t.Fatalf("cancel = %d", got)
	}
	natsbustest.Eventually(t, 10*time.Second, "the order is complete", func() bool { return orderStatus(buyer, paid.ID) == "complete" })

	c := startChrome(t, base)
	c.do("a 390×844 phone", 10*time.Second, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3), chromedp.EmulateMobile))
	c.do("sign in", 15*time.Second,
		chromedp.Navigate(c.base+"/auth/signin"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), "buyer.with.a.long.address@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), browserPassword),
		chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(".nav-button")),
	)
	measure := func(path, ready string) phoneLayout {
		t.Helper()
		c.do("open "+path, 10*time.Second, chromedp.Navigate(c.base+path), chromedp.WaitVisible(chromedp.CSS(ready)))
		var l phoneLayout
		if err := json.Unmarshal([]byte(chromeRun(c, "measure "+path, chromedp.Evaluate[string](layoutJS))), &l); err != nil {
			t.Fatal(err)
		}
		if l.ScrollWidth > l.InnerWidth || l.TableScrolls {
			t.Errorf("%s scrolls sideways on a phone: document %d px wide in a %d px viewport; the table scrolls inside its box: %v",
				path, l.ScrollWidth, l.InnerWidth, l.TableScrolls)
		}
		if l.HeaderRows != 1 {
			t.Errorf("%s: the signed-in header takes %d rows on a phone, want 1", path, l.HeaderRows)
		}
		return l
	}
	measure("/", "#q")

	l := measure("/orders", "table")
	want := map[string]struct{ status, when string }{
		paidTitle:      {"complete", "Paid "},
		cancelledTitle: {"cancelled", "Cancelled by you "},
		waitingTitle:   {"created", "Reserved until "},
	}
	if len(l.Orders) != len(want) {
		t.Fatalf("My Orders shows %d orders, want %d: %+v", len(l.Orders), len(want), l.Orders)
	}
	for _, o := range l.Orders {
		w, ok := want[o.Title]
		switch {
		case !ok:
			t.Errorf("My Orders shows %q", o.Title)
		case o.Status != w.status || !strings.HasPrefix(o.When, w.when):
			t.Errorf("%q: status %s, %q; want %s, %q…", o.Title, o.Status, o.When, w.status, w.when)
		case !o.Visible:
			t.Errorf("%q: the status is out of view", o.Title)
		}
		if o.Status != "created" && strings.Contains(o.When, "Reserved until") {
			t.Errorf("%q (%s) says %q", o.Title, o.Status, o.When)
		}
	}
}
