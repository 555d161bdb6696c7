package shows

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/ticketing/ticketing/internal/platform/httpapi/httpapitest"
	"github.com/ticketing/ticketing/internal/platform/session"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// body is a valid create body: the fake clock stands at clocktest.Start
// (2030-01-02).
const body = `{"name":"Jazz night","venue":"Paradiso","timeZone":"Europe/Amsterdam",
	"startsAt":"2030-06-01T20:00:00+02:00","faceValue":"25.50","capacity":"500"}`

func TestHTTPCreate(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s, _ := newTestService(t, db)
		h := handler(s)
		for _, tc := range []struct {
			name   string
			user   *session.User
			body   string
			status int
			fields []string
			code   string
		}{
			{"signed out", nil, body, http.StatusUnauthorized, []string{""}, "unauthorized"},
			{"not an organizer", &buyer, body, http.StatusForbidden, []string{""}, "not_organizer"},
			{"not an organizer, bad body", &buyer, `{`, http.StatusForbidden, []string{""}, "not_organizer"},
			{"bad JSON", &organizer, `{`, http.StatusBadRequest, []string{""}, "invalid"},
			{"unknown field", &organizer, `{"title":"x"}`, http.StatusBadRequest, []string{"title"}, "invalid"},
			{"empty", &organizer, `{}`, http.StatusBadRequest, []string{"name", "venue", "startsAt", "faceValue", "capacity"}, "invalid"},
			{"unreadable fields", &organizer, `{"name":"a","venue":"b","startsAt":"tomorrow","endsAt":5,"faceValue":"1.005",
				"capacity":"many","resaleCapPercent":1.5}`, http.StatusBadRequest,
				[]string{"startsAt", "endsAt", "faceValue", "capacity", "resaleCapPercent"}, "invalid"},
			{"wrong type", &organizer, `{"name":5}`, http.StatusBadRequest, []string{"name"}, "invalid"},
			{"past", &organizer, strings.Replace(body, "2030-06-01", "2029-06-01", 1), http.StatusBadRequest, []string{"startsAt"}, "invalid"},
			{"bad zone", &organizer, strings.Replace(body, "Europe/Amsterdam", "Nowhere", 1), http.StatusBadRequest, []string{"timeZone"}, "invalid"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := httpapitest.Do(t, h, "POST", "/api/events", tc.user, tc.body)
				if r.Status != tc.status {
					t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
				}
				fields, codes := r.Errors(t)
				if !slices.Equal(fields, tc.fields) || codes[0] != tc.code {
					t.Fatalf("errors %v %v, want %v %s: %s", fields, codes, tc.fields, tc.code, r.Body)
				}
			})
		}
		r := httpapitest.Do(t, h, "POST", "/api/events", &organizer, body)
		if r.Status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		e := r.Object(t)
		want := map[string]any{"name": "Jazz night", "venue": "Paradiso", "timeZone": "Europe/Amsterdam",
			"startsAt": "2030-06-01T18:00:00Z", "endsAt": "2030-06-01T22:00:00Z", "onSaleAt": "2030-01-02T03:04:05Z",
			"faceValue": 25.5, "capacity": 500.0, "resaleCapPercent": 100.0, "transfers": true, "queue": false,
			"status": "scheduled", "version": 0.0, "ticketsLeft": 0.0, "ticketsIssued": 0.0, "organizerId": organizer.ID}
		for k, v := range want {
			if e[k] != v {
				t.Errorf("%s = %v (%T), want %v", k, e[k], e[k], v)
			}
		}
	}, migs...)
}

func TestHTTPChanges(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s, _ := newTestService(t, db)
		h := handler(s)
		id := httpapitest.Do(t, h, "POST", "/api/events", &organizer, body).Object(t)["id"].(string)
		path := "/api/events/" + id
		for _, tc := range []struct {
			name, method, path string
			user               *session.User
			body               string
			status             int
			code               string
		}{
			{"edit signed out", "PUT", path, nil, `{"name":"x"}`, 401, "unauthorized"},
			{"edit by a buyer", "PUT", path, &buyer, `{"name":"x"}`, 403, "not_organizer"},
			{"edit by a rival", "PUT", path, &rival, `{"name":"x"}`, 403, "not_event_organizer"},
			{"edit capacity", "PUT", path, &organizer, `{"capacity":501}`, 400, "capacity_locked"},
			{"edit face value", "PUT", path, &organizer, `{"faceValue":"99.99"}`, 400, "face_value_locked"},
			{"edit on-sale time", "PUT", path, &organizer, `{"onSaleAt":"2031-01-01T00:00:00Z"}`, 400, "on_sale_locked"},
			{"edit unknown", "PUT", "/api/events/unknown", &organizer, `{"name":"x"}`, 404, "not_found"},
			{"edit bad name", "PUT", path, &organizer, `{"name":""}`, 400, "invalid"},
			{"staff by a rival", "POST", path + "/staff", &rival, `{"email":"a@example.com"}`, 403, "not_event_organizer"},
			{"staff bad email", "POST", path + "/staff", &organizer, `{"email":"nope"}`, 400, "invalid"},
			{"staff no email", "POST", path + "/staff", &organizer, `{}`, 400, "invalid"},
			{"cancel by a buyer", "POST", path + "/cancel", &buyer, ``, 403, "not_organizer"},
			{"cancel unknown", "POST", "/api/events/%20/cancel", &organizer, ``, 404, "not_found"},
			{"unstaff by a rival", "DELETE", path + "/staff/a@example.com", &rival, ``, 403, "not_event_organizer"},
			// Not an id (ids.Valid): the same 404 on every engine, where
			// PostgreSQL would refuse the NUL with an error of its own.
			{"get with a dot", "GET", "/api/events/a.b", nil, ``, 404, "not_found"},
			{"get with NUL", "GET", "/api/events/a%00b", nil, ``, 404, "not_found"},
			{"edit with NUL", "PUT", "/api/events/a%00b", &organizer, `{"name":"x"}`, 404, "not_found"},
			{"cancel a huge id", "POST", "/api/events/" + strings.Repeat("x", 5000) + "/cancel", &organizer, ``, 404, "not_found"},
			{"staff with NUL", "POST", "/api/events/a%00b/staff", &organizer, `{"email":"a@example.com"}`, 404, "not_found"},
			{"unstaff with invalid UTF-8", "DELETE", "/api/events/a%ffb/staff/a@example.com", &organizer, ``, 404, "not_found"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := httpapitest.Do(t, h, tc.method, tc.path, tc.user, tc.body)
				if r.Status != tc.status {
					t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
				}
				if _, codes := r.Errors(t); codes[0] != tc.code {
					t.Fatalf("code %v, want %s", codes, tc.code)
				}
			})
		}
		r := httpapitest.Do(t, h, "PUT", path, &organizer, `{"name":"Jazz late night","queue":true}`)
		if e := r.Object(t); r.Status != 200 || e["name"] != "Jazz late night" || e["queue"] != true || e["venue"] != "Paradiso" || e["version"] != 1.0 {
			t.Fatalf("edit: %d %s", r.Status, r.Body)
		}
		r = httpapitest.Do(t, h, "POST", path+"/staff", &organizer, `{"email":"Door@Example.com"}`)
		if r.Status != 200 || !strings.Contains(string(r.Body), `"staff":["door@example.com"]`) {
			t.Fatalf("add staff: %d %s", r.Status, r.Body)
		}
		if r := httpapitest.Do(t, h, "GET", path, &buyer, ""); strings.Contains(string(r.Body), "staff") {
			t.Fatalf("a buyer sees the staff: %s", r.Body)
		}
		r = httpapitest.Do(t, h, "DELETE", path+"/staff/"+url.PathEscape("door@example.com"), &organizer, "")
		if r.Status != 200 || !strings.Contains(string(r.Body), `"staff":[]`) {
			t.Fatalf("remove staff: %d %s", r.Status, r.Body)
		}
		r = httpapitest.Do(t, h, "POST", path+"/cancel", &organizer, "")
		if r.Status != 200 || r.Object(t)["status"] != "cancelled" {
			t.Fatalf("cancel: %d %s", r.Status, r.Body)
		}
		if r := httpapitest.Do(t, h, "PUT", path, &organizer, `{"name":"again"}`); r.Status != 400 || !strings.Contains(string(r.Body), "event_cancelled") {
			t.Fatalf("edit after cancel: %d %s", r.Status, r.Body)
		}
		if r := httpapitest.Do(t, h, "GET", "/api/events/mine", &organizer, ""); len(r.Objects(t)) != 1 {
			t.Fatalf("mine: %s", r.Body)
		}
		if r := httpapitest.Do(t, h, "GET", "/api/events/mine", nil, ""); r.Status != 401 {
			t.Fatalf("mine signed out: %d", r.Status)
		}
	}, migs...)
}

func TestHTTPList(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s, _ := newTestService(t, db)
		h := handler(s)
		for _, b := range []string{
			`{"name":"Opera","venue":"Hall","startsAt":"2030-03-01T20:00:00Z","faceValue":10,"capacity":1}`,
			`{"name":"Rock","venue":"Opera house","startsAt":"2030-02-01T20:00:00Z","faceValue":10,"capacity":1}`,
			`{"name":"Jazz","venue":"Club","startsAt":"2030-04-01T20:00:00Z","faceValue":10,"capacity":1}`,
		} {
			if r := httpapitest.Do(t, h, "POST", "/api/events", &organizer, b); r.Status != 201 {
				t.Fatalf("create: %s", r.Body)
			}
		}
		var names []string
		next := "/api/events?limit=1"
		for next != "" {
			r := httpapitest.Do(t, h, "GET", next, nil, "")
			if r.Status != 200 {
				t.Fatalf("%s: %d %s", next, r.Status, r.Body)
			}
			for _, e := range r.Objects(t) {
				names = append(names, e["name"].(string))
			}
			next = ""
			if link := r.Header.Get("Link"); link != "" {
				next = strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
			}
		}
		if !slices.Equal(names, []string{"Rock", "Opera", "Jazz"}) {
			t.Fatalf("pages: %v", names)
		}
		if got := httpapitest.Do(t, h, "GET", "/api/events?q=OPÉRA", nil, "").Objects(t); len(got) != 2 {
			t.Fatalf("q=opéra: %v", got)
		}
		for _, q := range []string{"limit=0", "limit=x", "after=1", "after=x.y", "after=-1.abc", "q=" + strings.Repeat("a", 201), "q=%00", "after=5.a%00b", "after=5.a.b"} {
			if r := httpapitest.Do(t, h, "GET", "/api/events?"+q, nil, ""); r.Status != 400 {
				t.Errorf("%s: %d %s", q, r.Status, r.Body)
			}
		}
		if r := httpapitest.Do(t, h, "GET", "/api/events/unknown", nil, ""); r.Status != 404 {
			t.Fatalf("unknown: %d", r.Status)
		}
	}, migs...)
}
