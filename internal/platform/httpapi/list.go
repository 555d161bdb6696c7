package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ticketing/ticketing/internal/platform/fault"
)

// MaxSearch is the longest search text (q=) a list takes, in characters:
// longer than any name or title it could match.
const MaxSearch = 200

// ParseSearch returns a list's search text, q= without surrounding space,
// "" for none. Text longer than MaxSearch, not UTF-8 or holding control
// characters is an error on the field q: nothing stored holds it, and
// PostgreSQL refuses a NUL outright.
func ParseSearch(query url.Values) (string, error) {
	q := strings.TrimSpace(query.Get("q"))
	switch {
	case utf8.RuneCountInString(q) > MaxSearch:
		return "", &fault.Error{Kind: fault.Invalid, Field: "q",
			Message: fmt.Sprintf("Search text must be at most %d characters", MaxSearch)}
	case !utf8.ValidString(q) || strings.ContainsFunc(q, unicode.IsControl):
		return "", &fault.Error{Kind: fault.Invalid, Field: "q", Message: "Search text must be plain text"}
	}
	return q, nil
}

// ParseLimit returns the size of a list's page, limit=, a whole number
// from 1 to max, or 0 when the request gives none (the whole list). Anything
// else is an error on the field limit.
func ParseLimit(query url.Values, max int) (int, error) {
	v := query.Get("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, &fault.Error{Kind: fault.Invalid, Field: "limit",
			Message: fmt.Sprintf("limit must be a whole number from 1 to %d", max)}
	}
	return n, nil
}

// Probe is how many items to fetch for a page of limit: one more, whose
// presence says a next page exists. 0 (the whole list) stays 0.
func Probe(limit int) int {
	if limit == 0 {
		return 0
	}
	return limit + 1
}

// NextPage cuts list, fetched with Probe(limit), to the page's limit items
// and reports whether a next page exists.
func NextPage[T any](list []T, limit int) ([]T, bool) {
	if limit == 0 || len(list) <= limit {
		return list, false
	}
	return list[:limit], true
}

// LinkNext points the response's Link header (rel="next") at the next page:
// path with query, which carries limit=, after= and the list's filters.
func LinkNext(w http.ResponseWriter, path string, query url.Values) {
	w.Header().Set("Link", "<"+path+"?"+query.Encode()+`>; rel="next"`)
}
