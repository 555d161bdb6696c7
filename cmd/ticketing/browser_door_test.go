package main

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/makiuchi-d/gozxing"
	zxingqr "github.com/makiuchi-d/gozxing/qrcode"
)

// TestBrowserDoor: an organizer creates an event; a buyer buys a ticket
// and pays; My tickets shows its QR code (read back from a screenshot, as
// a phone at the door would) and short form, and the PDF downloads. At
// the door page the organizer types the short form and Enter, as a hand
// scanner does: ADMITTED, the field empty and focused for the next; the
// same code again: ALREADY USED, with when. The buyer, who is not door
// staff, is told they may not check in.
func TestBrowserDoor(t *testing.T) {
	t.Parallel()
	c, dir := startBrowserUp(t, nil)

	eventPath := c.createEventAsOrganizer(dir, "org@example.com", "Door Night", "3", "")
	c.signUp("buyer@example.com")
	c.buyAndPay(eventPath)
	c.do("open My tickets from the header", 10*time.Second,
		chromedp.Click(chromedp.CSS(`header a[href="/tickets/mine"]`)),
		chromedp.WaitVisible(chromedp.CSS("main h1")),
	)
	c.eventually("My tickets shows the ticket's code", 30*time.Second, "/tickets/mine", "main h1", func() bool {
		return c.exists(".entry-code svg")
	})
	card := c.text(".held-ticket")
	for _, want := range []string{"Door Night", "Paradiso, Amsterdam", "(Europe/Amsterdam)", "Download PDF"} {
		if !strings.Contains(card, want) {
			t.Errorf("My tickets does not say %q: %q", want, card)
		}
	}
	c.readmeScreenshot("my-tickets.png")
	short := c.text(".short-code")
	pdfHref := chromeRun(c, "the PDF link", chromedp.Evaluate[string](`document.querySelector('.held-ticket a[href$="/pdf"]').getAttribute("href")`))
	ticketID := strings.TrimSuffix(strings.TrimPrefix(pdfHref, "/tickets/"), "/pdf")

	// The QR code, as a camera would see it on the screen.
	shot := chromeRun(c, "photograph the QR code", chromedp.ScreenshotScale(chromedp.CSS(".entry-code svg"), 2))
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := zxingqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("the QR code on My tickets does not decode: %v", err)
	}
	type codeJSON struct{ Code, Short string }
	api := chromeRun(c, "the API's code", chromedp.Evaluate[codeJSON](
		fmt.Sprintf(`fetch("/api/tickets/%s/code").then(r => r.json())`, ticketID), chromedp.EvalAwaitPromise))
	if res.GetText() != api.Code || short != api.Short || len(short) != 14 {
		t.Fatalf("the QR code reads %q and the short form %q; the API's code is %q, %q", res.GetText(), short, api.Code, api.Short)
	}

	// The PDF: an attachment, a PDF, kept by no shared cache.
	type pdfJSON struct {
		Status      int
		Type, Disp  string
		Cache, Head string
	}
	got := chromeRun(c, "download the PDF", chromedp.Evaluate[pdfJSON](fmt.Sprintf(`fetch(%q).then(async r => {
		const b = new Uint8Array(await r.arrayBuffer());
		return {status: r.status, type: r.headers.get("content-type"), disp: r.headers.get("content-disposition"),
			cache: r.headers.get("cache-control"), head: String.fromCharCode(...b.slice(0, 5))};
	})`, pdfHref), chromedp.EvalAwaitPromise))
	if got.Status != 200 || got.Type != "application/pdf" || !strings.HasPrefix(got.Disp, "attachment;") ||
		!strings.Contains(got.Cache, "no-store") || got.Head != "%PDF-" {
		t.Fatalf("the PDF download = %+v", got)
	}

	// The buyer is not door staff: the door page says so at the first scan.
	doorPath := eventPath + "/checkin"
	scan := func(code, want string) string {
		t.Helper()
		c.do("scan "+code, 15*time.Second,
			chromedp.WaitVisible(chromedp.CSS("#code")),
			chromedp.SendKeys(chromedp.CSS("#code"), code+"\n"),
			chromedp.WaitVisible(chromedp.CSS(".door-"+want)),
		)
		return c.text("#door-result")
	}
	c.do("open the door page", 10*time.Second, chromedp.Navigate(c.base+doorPath), chromedp.WaitVisible(chromedp.CSS("#code")))
	if r := scan(short, "refused"); !strings.Contains(r, "NOT ALLOWED") {
		t.Errorf("the buyer's scan says %q", r)
	}
	c.signOut()

	c.signIn("org@example.com")
	c.do("open the door page", 10*time.Second, chromedp.Navigate(c.base+doorPath), chromedp.WaitVisible(chromedp.CSS("#code")))
	if r := scan(strings.ToLower(short), "admitted"); !strings.Contains(r, "ADMITTED") {
		t.Fatalf("the first scan says %q", r)
	}
	ready := chromeRun(c, "the field after a scan", chromedp.Evaluate[bool](
		`document.activeElement === document.getElementById("code") && document.getElementById("code").value === ""`))
	if !ready {
		t.Error("after a scan the code field is not empty and focused")
	}
	if r := scan(short, "already_used"); !strings.Contains(r, "ALREADY USED") || !strings.Contains(r, "checked in at") {
		t.Fatalf("the second scan says %q", r)
	}
	// A reload shows the page ready, and checks nothing in again.
	c.do("reload", 10*time.Second, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#code")))
	if r := c.text("#door-result"); !strings.Contains(r, "Ready") {
		t.Errorf("after a reload the door says %q", r)
	}
	if r := scan("0000-0000-0000", "invalid"); !strings.Contains(r, "INVALID") {
		t.Errorf("a made-up code says %q", r)
	}

	// With a camera and BarcodeDetector (headless Chromium on Linux has
	// neither: stand-ins that see the ticket's QR code, the long code),
	// "Scan with camera" sends what it read through the same form.
	if c.exists("#door-camera:not([hidden])") {
		t.Error("Scan with camera is offered without BarcodeDetector")
	}
	camera := fmt.Sprintf(`window.BarcodeDetector = class {
		constructor(o) { this.formats = o.formats; }
		detect() { return Promise.resolve(this.formats.includes("qr_code") ? [{rawValue: %q}] : []); }
	};
	navigator.mediaDevices.getUserMedia = () => {
		const canvas = document.createElement("canvas");
		canvas.width = canvas.height = 64;
		canvas.getContext("2d").fillRect(0, 0, 32, 32);
		return Promise.resolve(canvas.captureStream(10));
	};`, api.Code)
	c.do("give the tab a camera", 5*time.Second, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: camera})
		return err
	}))
	c.do("scan with the camera", 15*time.Second,
		chromedp.Navigate(c.base+doorPath),
		chromedp.WaitVisible(chromedp.CSS("#door-camera-start")),
		chromedp.Click(chromedp.CSS("#door-camera-start")),
		chromedp.WaitVisible(chromedp.CSS(".door-already_used")),
	)
}

// createEventAsOrganizer signs email up, makes it an organizer (the admin
// command on dir), signs in again for the claim, creates an event in
// Amsterdam 30 days ahead at $25 with capacity seats (and capPercent as
// its resale cap, unless empty) through the page, signs out, and returns
// the event page's path.
func (c *chrome) createEventAsOrganizer(dir, email, name, capacity, capPercent string) string {
	c.t.Helper()
	c.signUp(email)
	if _, err := runAdmin(c.t, map[string]string{"TICKETING_DATA_DIR": dir}, "organizer", "grant", email); err != nil {
		c.t.Fatal(err)
	}
	c.signOut()
	c.signIn(email)
	starts := time.Now().UTC().AddDate(0, 0, 30).Truncate(time.Hour)
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(c.base + "/events/new"),
		chromedp.WaitVisible(chromedp.CSS("#name")),
		chromedp.SendKeys(chromedp.CSS("#name"), name),
		chromedp.SendKeys(chromedp.CSS("#venue"), "Paradiso, Amsterdam"),
		chromedp.SetValue(chromedp.CSS("#timeZone"), "Europe/Amsterdam"),
		chromedp.SetValue(chromedp.CSS("#startsAt"), starts.Format("2006-01-02T15:04")),
		chromedp.SendKeys(chromedp.CSS("#faceValue"), "25"),
		chromedp.SendKeys(chromedp.CSS("#capacity"), capacity),
	}
	if capPercent != "" {
		steps = append(steps, chromedp.SetValue(chromedp.CSS("#resaleCapPercent"), capPercent))
	}
	steps = append(steps,
		chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(".event-detail h1")))
	c.do("create the event", 20*time.Second, steps...)
	eventPath := strings.TrimPrefix(c.location(), c.base)
	c.signOut()
	return eventPath
}

// buyAndPay buys a ticket on the event page at eventPath, once it offers
// Buy, and pays with the test card that succeeds.
func (c *chrome) buyAndPay(eventPath string) {
	c.t.Helper()
	c.eventually("the event offers Buy", 30*time.Second, eventPath, ".event-detail h1", func() bool {
		return c.exists(`form[action$="/buy"]`)
	})
	c.checkout("/buy")
}

// checkout presses the button of the page's form whose action ends in
// action (Buy, Purchase), and on the order page pays with the test card
// that succeeds.
func (c *chrome) checkout(action string) {
	c.t.Helper()
	c.do("check out with "+action, 30*time.Second,
		chromedp.Click(chromedp.CSS(`form[action$="`+action+`"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#countdown")),
		chromedp.Click(chromedp.CSS("#card-tok_visa")),
		chromedp.Click(chromedp.CSS(`#pay-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
	)
}
