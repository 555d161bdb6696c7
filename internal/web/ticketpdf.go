package web

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	_ "time/tzdata" // the event's zone wherever the binary runs (a container may have no zoneinfo)

	"github.com/signintech/gopdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"

	"github.com/ticketing/ticketing/internal/platform/entrycode"
)

// ticketSheet is what a ticket's PDF shows (DESIGN.md 9.2): the entry code
// as a QR code with its short form for typing, and what the holder needs
// at the door.
type ticketSheet struct {
	Code  string // the signed entry code the QR code holds
	Short string // its short form (normalized; shown as XXXX-XXXX-XXXX)
	// Event, Venue and StartsAt describe the event; Zone is its IANA time
	// zone ("Europe/Berlin"), in which the time is shown and labelled.
	Event, Venue string
	StartsAt     time.Time
	Zone         string
	HolderEmail  string
	TicketID     string
}

// mm converts millimetres to points, the PDF's unit.
const mm = 72.0 / 25.4

// ticketTime shows t in zone, labelled with the zone's abbreviation at that
// moment and its name: "Sat 12 Dec 2026, 20:00 CET (Europe/Berlin)". An
// unknown or empty zone shows UTC, labelled so.
func ticketTime(t time.Time, zone string) string {
	loc, err := time.LoadLocation(zone)
	if err != nil || zone == "" || zone == "Local" {
		loc, zone = time.UTC, "UTC"
	}
	s := t.In(loc).Format("Mon 2 Jan 2006, 15:04 MST")
	if abbr := t.In(loc).Format("MST"); abbr != zone {
		s += " (" + zone + ")"
	}
	return s
}

// errTicketSheet is returned for a sheet that cannot be printed.
var errTicketSheet = errors.New("ticket pdf: missing code or event")

// writeTicketPDF writes the ticket's PDF to w: one A4 page, everything on
// it in a font embedded in the file (the Go fonts), the QR code drawn as
// vector squares so it prints sharp at any size.
func writeTicketPDF(w io.Writer, s ticketSheet) error {
	if s.Code == "" || s.Short == "" || s.Event == "" {
		return errTicketSheet
	}
	modules, err := qrModules(s.Code)
	if err != nil {
		return err
	}
	var pdf gopdf.GoPdf
	pdf.Start(gopdf.Config{PageSize: *gopdf.PageSizeA4})
	pdf.SetInfo(gopdf.PdfInfo{Title: "Ticket: " + s.Event, Creator: "Ticketing", CreationDate: time.Unix(0, 0).UTC()})
	if err := pdf.AddTTFFontData("regular", goregular.TTF); err != nil {
		return fmt.Errorf("ticket pdf: font: %w", err)
	}
	if err := pdf.AddTTFFontData("bold", gobold.TTF); err != nil {
		return fmt.Errorf("ticket pdf: font: %w", err)
	}
	pdf.AddPage()

	const left, width = 20 * mm, 170 * mm
	y := 20 * mm
	text := func(font string, size float64, s string) error {
		if err := pdf.SetFont(font, "", size); err != nil {
			return err
		}
		lines, err := pdf.SplitTextWithWordWrap(s, width)
		if err != nil {
			return err
		}
		for _, line := range lines {
			pdf.SetXY(left, y)
			if err := pdf.Cell(nil, line); err != nil {
				return err
			}
			y += size * 1.3
		}
		return nil
	}
	steps := []struct {
		font string
		size float64
		text string
		gap  float64 // after the text
	}{
		{"regular", 11, "TICKET", 2 * mm},
		{"bold", 22, s.Event, 3 * mm},
		{"regular", 13, s.Venue, 0},
		{"regular", 13, ticketTime(s.StartsAt, s.Zone), 6 * mm},
		{"regular", 11, "Holder: " + s.HolderEmail, 8 * mm},
	}
	for _, st := range steps {
		if st.text == "" || st.text == "Holder: " {
			continue
		}
		if err := text(st.font, st.size, oneLine(st.text)); err != nil {
			return fmt.Errorf("ticket pdf: %w", err)
		}
		y += st.gap
	}

	// The QR code, 70 mm square with its quiet zone, one filled rectangle
	// for each run of dark modules in a row.
	n := len(modules) + 2*qrQuiet
	side := 70 * mm
	cell := side / float64(n)
	pdf.SetFillColor(0, 0, 0)
	for r, row := range modules {
		for c := 0; c < len(row); {
			if !row[c] {
				c++
				continue
			}
			end := c
			for end < len(row) && row[end] {
				end++
			}
			pdf.RectFromUpperLeftWithStyle(left+float64(c+qrQuiet)*cell, y+float64(r+qrQuiet)*cell, float64(end-c)*cell, cell, "F")
			c = end
		}
	}
	y += side + 4*mm

	if err := text("bold", 20, entrycode.Format(s.Short)); err != nil {
		return fmt.Errorf("ticket pdf: %w", err)
	}
	y += 2 * mm
	if err := text("regular", 10, "Show the QR code at the door, or give the code above. It lets one person in once; "+
		"a newer code for this ticket (after a resale or transfer) replaces this one."); err != nil {
		return fmt.Errorf("ticket pdf: %w", err)
	}
	if s.TicketID != "" {
		y += 2 * mm
		if err := text("regular", 8, "Ticket "+s.TicketID); err != nil {
			return fmt.Errorf("ticket pdf: %w", err)
		}
	}
	if _, err := pdf.WriteTo(w); err != nil {
		return fmt.Errorf("ticket pdf: %w", err)
	}
	return nil
}

// oneLine turns any line breaks or tabs in s into spaces: the text of a
// sheet is laid out by width, not by what was typed.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
