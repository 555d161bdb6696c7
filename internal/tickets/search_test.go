package tickets

import (
	"strings"
	"testing"
)

func TestSearchText(t *testing.T) {
	tests := []struct{ title, want string }{
		{"Opera night, balcony", "opera night balcony"},
		{"Opéra NIGHT — Balcony!", "opera night balcony"},
		{"Café Müller", "cafe muller"},
		{"ÉTÉ", "ete"},
		{"ﬁnal", "final"},                          // a ligature decomposes
		{"ＡＢＣ １２３", "abc 123"},                     // full-width forms
		{"x²", "x2"},                               // compatibility digits
		{"jazz_club", "jazz club"},                 // _ separates words
		{`a"b*c-d:e&f|g!h'i`, "a b c d e f g h i"}, // no query syntax survives
		{"東京コンサート", "東京コンサート"},
		{"   ", ""},
	}
	for _, tt := range tests {
		if got := searchText(tt.title); got != tt.want {
			t.Errorf("searchText(%q) = %q, want %q", tt.title, got, tt.want)
		}
	}
}

func TestSearchWords(t *testing.T) {
	tests := []struct{ q, want string }{
		{"opera balcony", "opera,balcony"},
		{"  Balcony   OPÉRA ", "balcony,opera"},
		{"opera opera OPERA", "opera"},
		{`"NEAR" -x *`, "near,x"},
		{"%_", ""},
		{strings.Repeat("w ", 40), "w"},
		{strings.Repeat("a b c d e f g h i j k l m n o p q r s t ", 2), "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p"},
	}
	for _, tt := range tests {
		if got := strings.Join(searchWords(tt.q), ","); got != tt.want {
			t.Errorf("searchWords(%q) = %q, want %q", tt.q, got, tt.want)
		}
	}
}
