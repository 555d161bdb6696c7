// Package textsearch folds text into the words a word search matches, the
// same way for every service and both database engines: "Opéra night,
// BALCONY" is the words "opera", "night" and "balcony". A service stores a
// record's folded words beside it (Text) and matches a search's words
// (Words) as words or the start of one, with SQLite's FTS5 or PostgreSQL's
// 'simple' text search. Folding happens in Go, not in the database:
// SQLite's lower() knows only ASCII and PostgreSQL strips accents only
// through the unaccent extension, and one fold in one place makes both
// engines agree.
//
// Tickets (titles) and the events part (names and venues) search with it.
package textsearch

import (
	"strings"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// MaxWords bounds how many words of a search are used: a hundred one-letter
// words would make a needlessly costly query.
const MaxWords = 16

// Fold decomposes s (NFKD: "é" becomes "e" and a combining accent, "ﬁ"
// becomes "fi", a full-width "Ａ" an "A"), drops the combining marks and
// lower-cases what is left.
func Fold(s string) string {
	t := transform.Chain(norm.NFKD, runes.Remove(runes.In(unicode.Mn)))
	out, _, err := transform.String(t, s)
	if err != nil {
		// Only for invalid UTF-8, which the HTTP layer refuses; fall back
		// to the plain lower-casing rather than lose the text.
		out = s
	}
	return strings.ToLower(out)
}

// split cuts folded text into its words: runs of letters, digits and
// (spacing) marks. Everything else, punctuation and symbols included,
// separates words, so no character a user types reaches a search engine's
// query syntax.
func split(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r) && !unicode.IsMark(r)
	})
}

// Text is what a record's search column holds for its texts: their folded
// words, one space apart.
func Text(texts ...string) string {
	var all []string
	for _, t := range texts {
		all = append(all, split(Fold(t))...)
	}
	return strings.Join(all, " ")
}

// Words is a search text's folded words, each to match a word of the
// record or the start of one ("balc" finds "balcony"), in any order, at
// most MaxWords of them. Repeats are dropped; no words means no search.
func Words(q string) []string {
	var out []string
	seen := map[string]bool{}
	for _, w := range split(Fold(q)) {
		if !seen[w] && len(out) < MaxWords {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

// FTS5Match is the FTS5 MATCH expression for words (from Words): each a
// quoted string with a prefix match, implicitly ANDed. Each word is a
// literal, never query syntax: FTS5's NEAR, OR, "-" or "*" are plain text.
func FTS5Match(words []string) string {
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = `"` + strings.ReplaceAll(w, `"`, `""`) + `"*`
	}
	return strings.Join(quoted, " ")
}

// TSQuery is PostgreSQL's to_tsquery('simple', ...) text for words: each a
// quoted lexeme with a prefix match, ANDed. Within quotes a quote is
// doubled and a backslash escapes, so tsquery's "&", "!" or ":" are plain
// text.
func TSQuery(words []string) string {
	esc := strings.NewReplacer(`'`, `''`, `\`, `\\`)
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = `'` + esc.Replace(w) + `':*`
	}
	return strings.Join(quoted, " & ")
}
