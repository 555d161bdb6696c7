package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// signIn signs email in from the header's link.
func (c *chrome) signIn(email string) {
	c.t.Helper()
	c.do("sign in "+email, 15*time.Second,
		chromedp.Navigate(c.base+"/"),
		chromedp.Click(chromedp.CSS(`header a[href="/auth/signin"]`)),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), browserPassword),
		chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(".nav-button")),
	)
}

// TestBrowserEvents: an organizer (made one by the operator's command)
// creates an event in Amsterdam from a browser in New York; a visitor in
// New York finds it above the unverified listings and opens its page,
// which gives each time in Amsterdam's zone and the visitor's, each named,
// says when sales open, and fits a phone.
func TestBrowserEvents(t *testing.T) {
	t.Parallel()
	findChromium(t)
	dir := t.TempDir()
	base, _ := startUp(t, dir, nil)
	// Free-form listings beside the event, as the index shows both.
	seller := webSignUp(t, base, "seller@example.com")
	webSell(t, seller, "Concert, row F", "20.50")
	webSell(t, seller, "Opera night, balcony", "45")
	webSell(t, seller, "Jazz festival day pass", "120")
	c := startChrome(t, base)
	c.timezone("America/New_York")

	c.signUp("org@example.com")
	if c.exists(`header a[href="/events/mine"]`) {
		t.Fatal("My Events is offered before the account is an organizer")
	}
	if _, err := runAdmin(t, map[string]string{"TICKETING_DATA_DIR": dir}, "organizer", "grant", "org@example.com"); err != nil {
		t.Fatal(err)
	}
	c.signOut()
	c.signIn("org@example.com")

	ams, _ := time.LoadLocation("Europe/Amsterdam")
	ny, _ := time.LoadLocation("America/New_York")
	day := time.Now().In(ams).AddDate(0, 0, 30)
	starts := time.Date(day.Year(), day.Month(), day.Day(), 20, 0, 0, 0, ams)
	onSale := starts.AddDate(0, 0, -20).Add(-10 * time.Hour) // 10:00, ten days from now

	c.do("open the create form", 15*time.Second,
		chromedp.Click(chromedp.CSS(`header a[href="/events/mine"]`)),
		chromedp.WaitVisible(chromedp.CSS(`main a[href="/events/new"]`)),
		chromedp.Click(chromedp.CSS(`main a[href="/events/new"]`)),
		chromedp.WaitVisible(chromedp.CSS("#name")),
	)
	// The script offers the organizer's own zone; this event is elsewhere.
	if got := chromeRun(c, "read the zone", chromedp.Evaluate[string](`document.getElementById("timeZone").value`)); got != "America/New_York" {
		t.Errorf("the time zone field starts as %q, want the browser's America/New_York", got)
	}
	c.do("create the event", 20*time.Second,
		chromedp.SendKeys(chromedp.CSS("#name"), "Jazz Night"),
		chromedp.SendKeys(chromedp.CSS("#venue"), "Paradiso, Amsterdam"),
		chromedp.SetValue(chromedp.CSS("#timeZone"), "Europe/Amsterdam"),
		chromedp.SetValue(chromedp.CSS("#startsAt"), starts.Format("2006-01-02T15:04")),
		chromedp.SetValue(chromedp.CSS("#onSaleAt"), onSale.Format("2006-01-02T15:04")),
		chromedp.SendKeys(chromedp.CSS("#faceValue"), "40,50"),
		chromedp.SendKeys(chromedp.CSS("#capacity"), "100"),
		chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(".event-detail h1")),
	)
	if got := c.text(".flash"); !strings.Contains(got, "Your event is created") {
		t.Fatalf("after creating, the page says %q", got)
	}
	if !c.exists(`a[href$="/checkin"]`) || !c.pageHas("Sold so far") {
		t.Fatal("the organizer's event page lacks the door page link or the sales so far")
	}
	eventURL := c.location()
	c.signOut()

	c.signUp("visitor@example.com")
	c.do("open the index", 10*time.Second, chromedp.Navigate(c.base+"/"), chromedp.WaitVisible(chromedp.CSS(".event-grid")))
	card := c.text(".event-grid .event-card")
	inAms := starts.Format("Mon 2 Jan 2006, 15:04 MST")
	for _, want := range []string{"Jazz Night", "Paradiso, Amsterdam", "From $40.50", inAms, "On sale"} {
		if !strings.Contains(card, want) {
			t.Errorf("the index's event card does not say %q: %q", want, card)
		}
	}
	if got := c.text("#listings-hint"); !strings.Contains(got, "Unverified") {
		t.Errorf("the listings' hint is %q, want it to say which are unverified", got)
	}
	c.readmeScreenshot("index.png")
	c.do("open the event", 10*time.Second,
		chromedp.Click(`//main//a[normalize-space(.)="Jazz Night"]`),
		chromedp.WaitVisible(chromedp.CSS(".event-detail h1")),
	)
	if loc := c.location(); loc != eventURL {
		t.Fatalf("the index's link leads to %s, want %s", loc, eventURL)
	}
	// In the event's zone, named; then in the visitor's, named by the
	// script (New York: EDT or EST, and its IANA name).
	start := c.text("#event-starts")
	if !strings.Contains(start, inAms) || !strings.Contains(start, "(Europe/Amsterdam)") {
		t.Errorf("the start reads %q, want %q (Europe/Amsterdam)", start, inAms)
	}
	hour := starts.In(ny).Format("3:04 PM")
	if !regexp.MustCompile(`Your time \(America/New_York\): .*` + regexp.QuoteMeta(hour) + ` (EDT|EST|GMT-4|GMT-5)`).MatchString(start) {
		t.Errorf("the start reads %q, want the visitor's time %s in New York, named", start, hour)
	}
	sale := c.text("#event-sale")
	if !strings.Contains(sale, "Sales open") || !strings.Contains(sale, onSale.Format("Mon 2 Jan 2006, 15:04 MST")) {
		t.Errorf("before its sale the event says %q", sale)
	}
	if c.exists(`form[action$="/buy"]`) || c.pageHas("Your event") {
		t.Error("the visitor is offered Buy before the sale, or the organizer's part")
	}
	c.readmeScreenshot("event.png")

	// On a phone the pages fit: nothing scrolls sideways, and the
	// organizer's header, with My Events, is still one row.
	c.do("a 390×844 phone", 10*time.Second, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3), chromedp.EmulateMobile))
	measure := func(path, ready string) phoneLayout {
		t.Helper()
		c.do("open "+path, 10*time.Second, chromedp.Navigate(c.base+path), chromedp.WaitVisible(chromedp.CSS(ready)))
		var l phoneLayout
		if err := json.Unmarshal([]byte(chromeRun(c, "measure "+path, chromedp.Evaluate[string](layoutJS))), &l); err != nil {
			t.Fatal(err)
		}
		if l.ScrollWidth > l.InnerWidth {
			t.Errorf("%s scrolls sideways on a phone: %d px wide in a %d px viewport", path, l.ScrollWidth, l.InnerWidth)
		}
		return l
	}
	eventPath := strings.TrimPrefix(eventURL, c.base)
	measure("/", ".event-grid")
	measure(eventPath, ".event-detail h1")
	c.signOut()
	c.signIn("org@example.com")
	for _, p := range []struct{ path, ready string }{{"/events/mine", ".my-event"}, {eventPath, "#email"}, {"/events/new", "#name"}} {
		if l := measure(p.path, p.ready); l.HeaderRows != 1 {
			t.Errorf("%s: the organizer's header takes %d rows on a phone, want 1", p.path, l.HeaderRows)
		}
	}
}
