package web

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestOrderPageTryAgain: an order the buyer let expire, its ticket back on
// sale, says when the buyer may try again while the API's reserveAgainAt
// is ahead (shown rounded up to the minute, never before it), and offers
// "Try to buy again" from then on.
func TestOrderPageTryAgain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		again   time.Time
		wants   []string
		wantNot string
	}{
		{"pause holding", fixedNow().Add(8*time.Minute + 20*time.Second),
			[]string{`You can try again at <time datetime="2030-05-01T12:09:00Z">1 May 2030, 12:09 UTC</time>`}, "Try to buy again"},
		{"pause over", fixedNow(), []string{"Try to buy again", `action="/tickets/t1/purchase"`}, "You can try again at"},
		{"cancelled before the time was kept", time.Time{}, []string{"Try to buy again"}, "You can try again at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := &fakeAPI{me: &user{ID: "buyer", Email: "ann@example.com"}, ev: amsterdam()}
			again := ""
			if !tt.again.IsZero() {
				again = `,"reserveAgainAt":"` + tt.again.Format(time.RFC3339) + `"`
			}
			api.answers = map[string]answer{
				"GET /api/orders/o1": {200, `{"id":"o1","userId":"buyer","status":"cancelled","cancelledBy":"expiry","expiresAt":"2030-05-01T11:50:00Z","version":1,` +
					`"cancelledAt":"2030-05-01T11:50:01Z"` + again + `,"ticket":{"id":"t1","title":"Gig","price":2050,"version":0}}`},
				"GET /api/tickets/t1": {200, `{"id":"t1","title":"Gig","price":2050,"userId":"seller","status":"on_sale","version":2}`},
			}
			c := newFakeWeb(t, api)
			rec := c.get("/orders/o1")
			body := rec.Body.String()
			if rec.Code != http.StatusOK {
				t.Fatalf("order page = %d:\n%s", rec.Code, body)
			}
			for _, want := range append(tt.wants, "Expired", "The ticket is back on sale") {
				if !strings.Contains(body, want) {
					t.Errorf("order page lacks %q", want)
				}
			}
			if strings.Contains(body, tt.wantNot) {
				t.Errorf("order page has %q", tt.wantNot)
			}
		})
	}
}
