package tickets

import (
	"strings"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// The title search matches words. A title is stored beside its folded
// words (title_search: "Opéra night, BALCONY" is "opera night balcony"),
// and a search's text is folded the same way, so "balcony opera",
// "OPERA Balc" and "opéra" all find that ticket. Folding happens here, in
// Go, rather than in the database: SQLite's lower() knows only ASCII and
// PostgreSQL strips accents only through the unaccent extension, and one
// fold in one place makes both engines agree.

// fold decomposes s (NFKD: "é" becomes "e" and a combining accent, "ﬁ"
// becomes "fi", a full-width "Ａ" an "A"), drops the combining marks and
// lower-cases what is left.
func fold(s string) string {
	t := transform.Chain(norm.NFKD, runes.Remove(runes.In(unicode.Mn)))
	out, _, err := transform.String(t, s)
	if err != nil {
		// Only for invalid UTF-8, which the HTTP layer refuses; fall back
		// to the plain lower-casing rather than lose the text.
		out = s
	}
	return strings.ToLower(out)
}

// words splits folded text into its words: runs of letters, digits and
// (spacing) marks. Everything else, punctuation and symbols included,
// separates words, so no character a user types reaches a search engine's
// query syntax.
func words(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r) && !unicode.IsMark(r)
	})
}

// searchText is what title_search holds for title: its folded words, one
// space apart.
func searchText(title string) string {
	return strings.Join(words(fold(title)), " ")
}

// maxSearchWords bounds how many words of a search are used: a search is
// at most 200 characters, but a hundred one-letter words would make a
// needlessly costly query, and no title is found by its 17th word alone.
const maxSearchWords = 16

// searchWords is a search text's folded words, each to match a word of
// the title or the start of one ("balc" finds "balcony"), in any order.
// Repeats are dropped; no words means no search.
func searchWords(q string) []string {
	var out []string
	seen := map[string]bool{}
	for _, w := range words(fold(q)) {
		if !seen[w] && len(out) < maxSearchWords {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}
