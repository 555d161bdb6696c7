package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserQueue: a buyer opens a queued event's page before its
// on-sale and is sent to the waiting room, joins, and waits; at the
// on-sale the draw places them, the page (live from the room's
// server-sent events, reloading when the state changes) shows their turn,
// and they buy. A late arrival waits behind everyone who joined early.
func TestBrowserQueue(t *testing.T) {
	t.Parallel()
	findChromium(t)
	const key = "browser-queue-key-browser-queue!"
	base, _ := startUp(t, t.TempDir(), map[string]string{"JWT_KEY": key})
	org := signUp(t, base, "org@example.com")
	asOrganizer(t, org, key)
	c := startChrome(t, base)
	c.signUp("early@example.com")
	onSale := time.Now().Add(8 * time.Second).UTC()
	starts := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	var ev eventJSON
	if got := org.do("POST", "/api/events", map[string]any{"name": "Big show", "venue": "Arena", "timeZone": "Europe/Amsterdam",
		"startsAt": starts.Format(time.RFC3339), "onSaleAt": onSale.Format(time.RFC3339Nano), "faceValue": "40", "capacity": 2, "queue": true}, &ev); got != http.StatusCreated {
		t.Fatalf("create = %d", got)
	}
	path := "/api/events/" + ev.ID + "/queue"
	c.do("open the event", 15*time.Second,
		chromedp.Navigate(c.base+"/events/"+ev.ID),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/events/`+ev.ID+`/queue"] button`)),
		chromedp.Click(chromedp.CSS(`form[action="/events/`+ev.ID+`/queue"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#queue-status[data-state="shuffling"]`)),
	)
	if !c.pageHas("drawn at random") {
		t.Fatal("the room does not say the places are drawn")
	}
	other := signUp(t, base, "other@example.com")
	if got := other.do("POST", path, nil, nil); got != http.StatusOK {
		t.Fatalf("another early join = %d", got)
	}
	if time.Now().After(onSale) {
		t.Fatal("the joins came after the on-sale: the test is too slow for its timing")
	}
	// The page follows the room by itself: the draw, then the turn.
	c.do("wait for the turn", 40*time.Second,
		chromedp.WaitVisible(chromedp.CSS(`form[action="/events/`+ev.ID+`/buy"] button`)))
	late := signUp(t, base, "late@example.com")
	var q queueJSON
	if late.do("POST", path, nil, &q); q.Position == nil || *q.Position != 3 {
		t.Fatalf("the late arrival: %+v, want place 3, behind both early ones", q)
	}
	c.do("buy", 20*time.Second, chromedp.Click(chromedp.CSS(`form[action="/events/`+ev.ID+`/buy"] button`)))
	c.waitLocation("/orders/", 20*time.Second)
}
