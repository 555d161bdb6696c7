package web

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ledongthuc/pdf"

	"github.com/ticketing/ticketing/internal/platform/entrycode"
)

func TestTicketTime(t *testing.T) {
	t.Parallel()
	winter := time.Date(2026, 12, 12, 19, 0, 0, 0, time.UTC)
	summer := time.Date(2026, 7, 1, 18, 30, 0, 0, time.UTC)
	tests := []struct {
		at   time.Time
		zone string
		want string
	}{
		{winter, "Europe/Berlin", "Sat 12 Dec 2026, 20:00 CET (Europe/Berlin)"},
		{summer, "Europe/Berlin", "Wed 1 Jul 2026, 20:30 CEST (Europe/Berlin)"},
		{winter, "America/New_York", "Sat 12 Dec 2026, 14:00 EST (America/New_York)"},
		{winter, "Asia/Kolkata", "Sun 13 Dec 2026, 00:30 IST (Asia/Kolkata)"},
		{winter, "UTC", "Sat 12 Dec 2026, 19:00 UTC"},
		{winter.In(time.FixedZone("X", 3600)), "UTC", "Sat 12 Dec 2026, 19:00 UTC"},
		{winter, "", "Sat 12 Dec 2026, 19:00 UTC"},
		{winter, "Local", "Sat 12 Dec 2026, 19:00 UTC"},
		{winter, "Mars/Olympus", "Sat 12 Dec 2026, 19:00 UTC"},
		{winter, "../../etc/passwd", "Sat 12 Dec 2026, 19:00 UTC"},
	}
	for _, tc := range tests {
		if got := ticketTime(tc.at, tc.zone); got != tc.want {
			t.Errorf("ticketTime(%v, %q) = %q, want %q", tc.at, tc.zone, got, tc.want)
		}
	}
}

// TestTicketPDF reads the PDF back with a PDF reader: one page holding the
// event, venue, time in the event's zone, holder and short form as text,
// and the QR code, redrawn from the page's rectangles, decodes to the code.
func TestTicketPDF(t *testing.T) {
	t.Parallel()
	code := testCode(t)
	short, err := entrycode.Short(code)
	if err != nil {
		t.Fatal(err)
	}
	sheet := ticketSheet{
		Code: code, Short: short,
		Event:       "Große Gala – Night of the Proms, with an event name long enough that it has to wrap onto a second line of the page",
		Venue:       "Olympiahalle, München",
		StartsAt:    time.Date(2026, 12, 12, 19, 0, 0, 0, time.UTC),
		Zone:        "Europe/Berlin",
		HolderEmail: "ann@example.com",
		TicketID:    "0192f0c4-5a6b-7c8d-9e0f-a1b2c3d4e5f6",
	}
	var buf bytes.Buffer
	if err := writeTicketPDF(&buf, sheet); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if !bytes.HasPrefix(b, []byte("%PDF-1.")) || !bytes.Contains(b[len(b)-32:], []byte("%%EOF")) {
		t.Fatalf("not a PDF file: starts %q, ends %q", b[:8], b[len(b)-32:])
	}
	r, err := pdf.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("the PDF does not parse: %v", err)
	}
	if r.NumPage() != 1 {
		t.Fatalf("%d pages, want 1", r.NumPage())
	}
	page := r.Page(1)
	plain, err := page.GetPlainText(nil)
	if err != nil {
		t.Fatal(err)
	}
	// The reader returns the text without the spaces between words
	// (gopdf writes each word's glyphs); compare without spaces.
	squash := func(s string) string { return strings.Join(strings.Fields(s), "") }
	got := squash(plain)
	for _, want := range []string{
		"Große Gala – Night of the Proms", "second line of the page",
		sheet.Venue,
		"Sat 12 Dec 2026, 20:00 CET (Europe/Berlin)",
		"ann@example.com",
		entrycode.Format(short),
		sheet.TicketID,
	} {
		if !strings.Contains(got, squash(want)) {
			t.Errorf("the PDF's text lacks %q:\n%s", want, plain)
		}
	}

	// Redraw the filled rectangles (all of them the QR code's) at 4 px a
	// module and decode them as a scanner would.
	rects := page.Content().Rect
	if len(rects) < 100 {
		t.Fatalf("%d rectangles on the page: where is the QR code?", len(rects))
	}
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, rc := range rects {
		x0, x1 := min(rc.Min.X, rc.Max.X), max(rc.Min.X, rc.Max.X)
		y0, y1 := min(rc.Min.Y, rc.Max.Y), max(rc.Min.Y, rc.Max.Y)
		minX, maxX, minY, maxY = min(minX, x0), max(maxX, x1), min(minY, y0), max(maxY, y1)
	}
	const modules, px = 45, 4.0
	cell := (maxX - minX) / modules
	if math.Abs((maxY-minY)-(maxX-minX)) > 0.1 || math.Abs((cell*(modules+2*qrQuiet))-70*mm) > 0.5 {
		t.Fatalf("QR code %.1f × %.1f pt: want a square of 45 modules in 70 mm with the quiet zone", maxX-minX, maxY-minY)
	}
	side := int((modules + 2*qrQuiet) * px)
	img := image.NewGray(image.Rect(0, 0, side, side))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for _, rc := range rects {
		// PDF y grows upwards; the image's downwards.
		x0 := int(math.Round((min(rc.Min.X, rc.Max.X)-minX)/cell*px)) + qrQuiet*px
		x1 := int(math.Round((max(rc.Min.X, rc.Max.X)-minX)/cell*px)) + qrQuiet*px
		y0 := int(math.Round((maxY-max(rc.Min.Y, rc.Max.Y))/cell*px)) + qrQuiet*px
		y1 := int(math.Round((maxY-min(rc.Min.Y, rc.Max.Y))/cell*px)) + qrQuiet*px
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				img.Set(x, y, color.Black)
			}
		}
	}
	if got := decodeQR(t, img); got != code {
		t.Fatalf("the PDF's QR code decodes to %q, want %q", got, code)
	}
}

func TestTicketPDFRefuses(t *testing.T) {
	t.Parallel()
	code := testCode(t)
	for _, s := range []ticketSheet{
		{Short: "ABCDEFGHJKMN", Event: "Gig"},
		{Code: code, Event: "Gig"},
		{Code: code, Short: "ABCDEFGHJKMN"},
	} {
		if err := writeTicketPDF(&bytes.Buffer{}, s); !errors.Is(err, errTicketSheet) {
			t.Errorf("writeTicketPDF(%+v) = %v, want errTicketSheet", s, err)
		}
	}
	// Text the Go fonts have no glyph for, and a name of 200 characters
	// without a space, still make a PDF.
	for _, s := range []ticketSheet{
		{Code: code, Short: "ABCDEFGHJKMN", Event: "東京ドーム 🎸", Venue: "Tab\there\nnewline", Zone: "Asia/Tokyo"},
		{Code: code, Short: "ABCDEFGHJKMN", Event: strings.Repeat("W", 200), Venue: strings.Repeat("i", 200), HolderEmail: strings.Repeat("m", 64) + "@example.com"},
	} {
		var buf bytes.Buffer
		if err := writeTicketPDF(&buf, s); err != nil {
			t.Fatalf("event %.20q: %v", s.Event, err)
		}
	}
}
