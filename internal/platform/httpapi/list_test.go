package httpapi_test

import (
	"errors"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/httpapi"
)

// fieldOf is the field a list parameter's error names, "" for no error.
func fieldOf(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var fe *fault.Error
	if !errors.As(err, &fe) || fe.Kind != fault.Invalid || fe.Message == "" {
		t.Fatalf("error %v is not an Invalid field error with a message", err)
	}
	return fe.Field
}

func TestParseSearch(t *testing.T) {
	for _, tc := range []struct {
		name, raw string // raw is the query string
		want      string
		field     string
	}{
		{name: "none", raw: ""},
		{name: "trimmed", raw: "q=+%C3%A9t%C3%A9+opera+", want: "été opera"},
		{name: "at the longest", raw: "q=" + strings.Repeat("é", httpapi.MaxSearch), want: strings.Repeat("é", httpapi.MaxSearch)},
		{name: "too long", raw: "q=" + strings.Repeat("a", httpapi.MaxSearch+1), field: "q"},
		{name: "NUL", raw: "q=a%00b", field: "q"},
		{name: "control character", raw: "q=a%07b", field: "q"},
		{name: "invalid UTF-8", raw: "q=a%ffb", field: "q"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			query, err := url.ParseQuery(tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			got, err := httpapi.ParseSearch(query)
			if field := fieldOf(t, err); field != tc.field || got != tc.want {
				t.Fatalf("ParseSearch(%s) = %q, error on %q; want %q, error on %q", tc.raw, got, field, tc.want, tc.field)
			}
		})
	}
}

func TestParseLimit(t *testing.T) {
	for _, tc := range []struct {
		raw   string
		want  int
		field string
	}{
		{raw: "", want: 0},
		{raw: "limit=1", want: 1},
		{raw: "limit=100", want: 100},
		{raw: "limit=0", field: "limit"},
		{raw: "limit=101", field: "limit"},
		{raw: "limit=-1", field: "limit"},
		{raw: "limit=2.5", field: "limit"},
		{raw: "limit=ten", field: "limit"},
	} {
		query, _ := url.ParseQuery(tc.raw)
		got, err := httpapi.ParseLimit(query, 100)
		if field := fieldOf(t, err); field != tc.field || got != tc.want {
			t.Errorf("ParseLimit(%q) = %d, error on %q; want %d, error on %q", tc.raw, got, field, tc.want, tc.field)
		}
	}
}

func TestNextPage(t *testing.T) {
	items := []int{1, 2, 3, 4}
	for _, tc := range []struct {
		name    string
		limit   int
		fetched []int // what the store returned for Probe(limit)
		want    []int
		more    bool
	}{
		{name: "whole list", limit: 0, fetched: items, want: items},
		{name: "probe found", limit: 3, fetched: items, want: items[:3], more: true},
		{name: "last page full", limit: 4, fetched: items, want: items},
		{name: "last page short", limit: 10, fetched: items, want: items},
		{name: "empty", limit: 2, fetched: nil, want: nil},
	} {
		if tc.limit > 0 && httpapi.Probe(tc.limit) != tc.limit+1 || tc.limit == 0 && httpapi.Probe(0) != 0 {
			t.Fatalf("Probe(%d) = %d", tc.limit, httpapi.Probe(tc.limit))
		}
		got, more := httpapi.NextPage(tc.fetched, tc.limit)
		if !slices.Equal(got, tc.want) || more != tc.more {
			t.Errorf("%s: NextPage = %v, %v; want %v, %v", tc.name, got, more, tc.want, tc.more)
		}
	}
}

func TestLinkNext(t *testing.T) {
	w := httptest.NewRecorder()
	httpapi.LinkNext(w, "/api/events", url.Values{"limit": {"2"}, "after": {"5.ev-1"}, "q": {"jazz club"}})
	if got, want := w.Header().Get("Link"), `</api/events?after=5.ev-1&limit=2&q=jazz+club>; rel="next"`; got != want {
		t.Fatalf("Link = %s, want %s", got, want)
	}
}
