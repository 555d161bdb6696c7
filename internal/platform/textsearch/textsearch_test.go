package textsearch

import (
	"slices"
	"testing"
)

func TestText(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{[]string{"Opéra night, BALCONY"}, "opera night balcony"},
		{[]string{"Jazz", "Paradiso – Amsterdam"}, "jazz paradiso amsterdam"},
		{[]string{"ﬁnal Ａct"}, "final act"},
		{[]string{"  ", "!!"}, ""},
		{[]string{"Opéra NIGHT — Balcony!"}, "opera night balcony"},
		{[]string{"Café Müller"}, "cafe muller"},
		{[]string{"ÉTÉ"}, "ete"},
		{[]string{"ＡＢＣ １２３"}, "abc 123"},                     // full-width forms
		{[]string{"x²"}, "x2"},                               // compatibility digits
		{[]string{"jazz_club"}, "jazz club"},                 // _ separates words
		{[]string{`a"b*c-d:e&f|g!h'i`}, "a b c d e f g h i"}, // no query syntax survives
		{[]string{"東京コンサート"}, "東京コンサート"},
	} {
		if got := Text(tc.in...); got != tc.want {
			t.Errorf("Text(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestWords(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"balc OPÉRA balc", []string{"balc", "opera"}},
		{`a"b' & !c:*`, []string{"a", "b", "c"}},
		{"", nil},
		{"  Balcony   OPÉRA ", []string{"balcony", "opera"}},
		{`"NEAR" -x *`, []string{"near", "x"}},
		{"%_", nil},
		{"1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18", []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16"}},
	} {
		if got := Words(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("Words(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestQueries(t *testing.T) {
	ws := []string{"it's", `a\b`, `q"`}
	if got, want := FTS5Match(ws), `"it's"* "a\b"* "q"""*`; got != want {
		t.Errorf("FTS5Match = %s, want %s", got, want)
	}
	if got, want := TSQuery(ws), `'it''s':* & 'a\\b':* & 'q"':*`; got != want {
		t.Errorf("TSQuery = %s, want %s", got, want)
	}
}
