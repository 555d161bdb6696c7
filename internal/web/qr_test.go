package web

import (
	"bytes"
	"crypto/ed25519"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	zxingqr "github.com/makiuchi-d/gozxing/qrcode"

	"github.com/ticketing/ticketing/internal/platform/entrycode"
)

// testCode is a real entry code: two UUIDs, signed.
func testCode(t testing.TB) string {
	t.Helper()
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	code, err := entrycode.Sign(priv, entrycode.Claims{
		TicketID: "0192f0c4-5a6b-7c8d-9e0f-a1b2c3d4e5f6", EventID: "0192f0c4-0000-7000-8000-000000000001", CodeVersion: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// decodeQR reads the QR code in img with ZXing's decoder (a port of the
// reader phones and door scanners use), as a scanner would.
func decodeQR(t testing.TB, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := zxingqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil {
		t.Fatalf("the QR code does not decode: %v", err)
	}
	return res.GetText()
}

func TestQRImageDecodes(t *testing.T) {
	t.Parallel()
	code := testCode(t)
	for _, tc := range []struct {
		name, text string
		modules    int // 0: not checked
	}{
		{"entry code", code, 45},
		{"entry code in lower case (bytes)", strings.ToLower(code), 0},
		{"short form", "ABCD-EFGH-JKMN", 21},
		{"UTF-8", "Café – Zürich", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := qrPNG(tc.text, 4)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("not a PNG: %v", err)
			}
			if got := decodeQR(t, img); got != tc.text {
				t.Fatalf("decoded %q, want %q", got, tc.text)
			}
			side := img.Bounds().Dx()
			if side != img.Bounds().Dy() || side%4 != 0 {
				t.Fatalf("image %v: want a square of whole modules", img.Bounds())
			}
			if tc.modules != 0 && side/4 != tc.modules+2*qrQuiet {
				t.Errorf("%d modules a side, want %d and the quiet zone", side/4-2*qrQuiet, tc.modules)
			}
			// The quiet zone is white all round.
			for i := range side {
				for _, p := range [][2]int{{i, 0}, {0, i}, {i, side - 1}, {side - 1, i}} {
					if r, _, _, _ := img.At(p[0], p[1]).RGBA(); r != 0xffff {
						t.Fatalf("dark pixel at %v in the quiet zone", p)
					}
				}
			}
		})
	}
}

// TestQRSVG renders the SVG's rectangles back into an image and decodes it:
// the path is the symbol, module for module.
func TestQRSVG(t *testing.T) {
	t.Parallel()
	code := testCode(t)
	svg, err := qrSVG(code, `Entry code for "Gig" <b>`)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		XMLName xml.Name `xml:"svg"`
		ViewBox string   `xml:"viewBox,attr"`
		Label   string   `xml:"aria-label,attr"`
		Role    string   `xml:"role,attr"`
	}
	if err := xml.Unmarshal([]byte(svg), &doc); err != nil {
		t.Fatalf("not well-formed SVG: %v\n%s", err, svg)
	}
	if doc.Label != `Entry code for "Gig" <b>` || doc.Role != "img" {
		t.Errorf("label %q role %q: want the label as given (escaped in the markup) and role img", doc.Label, doc.Role)
	}
	if strings.Contains(string(svg), "<script") || strings.Contains(string(svg), "<b>") {
		t.Fatalf("SVG carries markup it should not: %s", svg)
	}
	var n int
	if _, err := fmt.Sscanf(doc.ViewBox, "0 0 %d %d", &n, &n); err != nil || n != 45+2*qrQuiet {
		t.Fatalf("viewBox %q: want 0 0 %d %d", doc.ViewBox, 45+2*qrQuiet, 45+2*qrQuiet)
	}
	if got := svgQRText(t, string(svg)); got != code {
		t.Fatalf("the SVG decodes to %q, want %q", got, code)
	}
}

func TestQRRefuses(t *testing.T) {
	t.Parallel()
	for _, text := range []string{"", strings.Repeat("A", maxQRText+1)} {
		if _, err := qrSVG(text, "x"); !errors.Is(err, errQRText) {
			t.Errorf("qrSVG(%d characters) = %v, want errQRText", len(text), err)
		}
		if _, err := qrPNG(text, 4); !errors.Is(err, errQRText) {
			t.Errorf("qrPNG(%d characters) = %v, want errQRText", len(text), err)
		}
	}
	// The largest text accepted still renders (version 40 holds it).
	if _, err := qrPNG(strings.Repeat("a", maxQRText), 1); err != nil {
		t.Errorf("qrPNG of %d bytes: %v", maxQRText, err)
	}
	for _, scale := range []int{0, -1, 65} {
		if _, err := qrPNG("A", scale); err == nil {
			t.Errorf("qrPNG at scale %d was accepted", scale)
		}
	}
}

// svgQRText draws the QR code of an SVG qrSVG made (its viewBox and path
// of runs) into an image and decodes it as a scanner would.
func svgQRText(t testing.TB, svg string) string {
	t.Helper()
	var doc struct {
		ViewBox string `xml:"viewBox,attr"`
		Path    struct {
			D string `xml:"d,attr"`
		} `xml:"path"`
	}
	if err := xml.Unmarshal([]byte(svg), &doc); err != nil {
		t.Fatalf("not well-formed SVG: %v\n%s", err, svg)
	}
	var n int
	if _, err := fmt.Sscanf(doc.ViewBox, "0 0 %d %d", &n, &n); err != nil {
		t.Fatalf("viewBox %q", doc.ViewBox)
	}
	const scale = 4
	img := image.NewGray(image.Rect(0, 0, n*scale, n*scale))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	run := regexp.MustCompile(`^M(\d+) (\d+)h(\d+)v1h-(\d+)z`)
	d := doc.Path.D
	for d != "" {
		m := run.FindStringSubmatch(d)
		if m == nil {
			t.Fatalf("unexpected path data at %.30q", d)
		}
		x, _ := strconv.Atoi(m[1])
		y, _ := strconv.Atoi(m[2])
		w, _ := strconv.Atoi(m[3])
		if back, _ := strconv.Atoi(m[4]); back != w || x < qrQuiet || y < qrQuiet || x+w > n-qrQuiet || y >= n-qrQuiet {
			t.Fatalf("run %q outside the symbol", m[0])
		}
		for py := y * scale; py < (y+1)*scale; py++ {
			for px := x * scale; px < (x+w)*scale; px++ {
				img.Set(px, py, color.Black)
			}
		}
		d = d[len(m[0]):]
	}
	return decodeQR(t, img)
}
