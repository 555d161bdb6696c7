package web

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"image"
	"image/color"
	"image/png"
	"strings"

	qrcode "github.com/yeqown/go-qrcode/v2"
)

// A ticket's entry code as a QR code (DESIGN.md 9.2): an inline SVG for
// pages (no script, no request of its own, sharp at any zoom) and an image
// for the PDF. Level M recovers from 15% of the symbol damaged (a crease,
// a scratch on a phone screen) and keeps a code of 163 characters at
// version 7 (45×45 modules).

// qrQuiet is the quiet zone around the symbol, in modules: the 4 the QR
// standard asks for, so the symbol reads on any background.
const qrQuiet = 4

// maxQRText bounds what is rendered: an entry code is at most
// entrycode.MaxLen (400) characters; a QR code holds at most ~2,300 at
// level M, and a longer one would be a symbol no door scanner reads.
const maxQRText = 1024

// errQRText is returned for a text that cannot be a QR code here.
var errQRText = errors.New("qr: text empty or too long")

// qrModules returns the symbol of text at level M, a row at a time, true
// for a dark module, without the quiet zone.
func qrModules(text string) ([][]bool, error) {
	if text == "" || len(text) > maxQRText {
		return nil, errQRText
	}
	// The alphanumeric mode (digits, upper case, space and $%*+-./:) takes
	// 5.5 bits a character, bytes 8: entry codes are written in it.
	mode := qrcode.EncModeByte
	if strings.Trim(text, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:") == "" {
		mode = qrcode.EncModeAlphanumeric
	}
	q, err := qrcode.NewWith(text,
		qrcode.WithEncodingMode(mode),
		qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionMedium))
	if err != nil {
		return nil, fmt.Errorf("qr: %w", err)
	}
	var w matrixWriter
	if err := q.Save(&w); err != nil {
		return nil, fmt.Errorf("qr: %w", err)
	}
	return w.rows, nil
}

// matrixWriter keeps the modules the library hands its writers.
type matrixWriter struct{ rows [][]bool }

func (w *matrixWriter) Write(m qrcode.Matrix) error { w.rows = m.Bitmap(); return nil }
func (w *matrixWriter) Close() error                { return nil }

// qrSVG renders text as an inline SVG QR code, to be placed in a page as
// it is: one path of the dark modules, in a viewBox of modules (quiet zone
// included) that CSS sizes. label is its accessible name.
func qrSVG(text, label string) (template.HTML, error) {
	rows, err := qrModules(text)
	if err != nil {
		return "", err
	}
	n := len(rows) + 2*qrQuiet
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="qr" viewBox="0 0 %d %d" role="img" aria-label="%s" shape-rendering="crispEdges">`,
		n, n, template.HTMLEscapeString(label))
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n)
	// Each run of dark modules in a row is one rectangle.
	for y, row := range rows {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			end := x
			for end < len(row) && row[end] {
				end++
			}
			fmt.Fprintf(&b, "M%d %dh%dv1h-%dz", x+qrQuiet, y+qrQuiet, end-x, end-x)
			x = end
		}
	}
	b.WriteString(`"/></svg>`)
	return template.HTML(b.String()), nil
}

// qrImage renders text as a black-and-white image of scale pixels a
// module, quiet zone included.
func qrImage(text string, scale int) (*image.Paletted, error) {
	if scale < 1 || scale > 64 {
		return nil, fmt.Errorf("qr: scale %d outside 1..64", scale)
	}
	rows, err := qrModules(text)
	if err != nil {
		return nil, err
	}
	n := (len(rows) + 2*qrQuiet) * scale
	img := image.NewPaletted(image.Rect(0, 0, n, n), color.Palette{color.White, color.Black})
	for y, row := range rows {
		for x, dark := range row {
			if !dark {
				continue
			}
			for dy := range scale {
				off := img.PixOffset((x+qrQuiet)*scale, (y+qrQuiet)*scale+dy)
				for dx := range scale {
					img.Pix[off+dx] = 1
				}
			}
		}
	}
	return img, nil
}

// qrPNG is qrImage as a PNG file.
func qrPNG(text string, scale int) ([]byte, error) {
	img, err := qrImage(text, scale)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("qr: %w", err)
	}
	return buf.Bytes(), nil
}
