package main

import (
	"bufio"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
)

// queueJSON is GET /api/events/{id}/queue's answer.
type queueJSON struct {
	State     string `json:"state"`
	Joined    bool   `json:"joined"`
	Position  *int   `json:"position"`
	SeedHash  string `json:"seedHash"`
	Seed      string `json:"seed"`
	Admission string `json:"admission"`
	Receipt   string `json:"receipt"`
}

// TestUpQueue runs an on-sale through its waiting room in `up`: buyers
// join before the on-sale and wait for the draw, a late arrival queues
// behind them, a reservation without an admission (or with another's) is
// refused with the room's address, and the admitted buy.
func TestUpQueue(t *testing.T) {
	t.Parallel()
	const key = "queue-test-key-queue-test-key-qq"
	base, _ := startUp(t, t.TempDir(), map[string]string{"JWT_KEY": key})
	org := signUp(t, base, "org@example.com")
	asOrganizer(t, org, key)
	onSale := time.Now().Add(3 * time.Second).UTC()
	starts := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	var ev eventJSON
	if got := org.do("POST", "/api/events", map[string]any{"name": "Big show", "venue": "Arena", "timeZone": "Europe/Amsterdam",
		"startsAt": starts.Format(time.RFC3339), "onSaleAt": onSale.Format(time.RFC3339Nano), "faceValue": "40", "capacity": 2, "queue": true}, &ev); got != http.StatusCreated {
		t.Fatalf("create = %d", got)
	}
	path := "/api/events/" + ev.ID + "/queue"
	buyers := []*client{signUp(t, base, "a@example.com"), signUp(t, base, "b@example.com")}
	for _, b := range buyers {
		var q queueJSON
		if got := b.do("POST", path, nil, &q); got != http.StatusOK || q.State != "shuffling" || q.SeedHash == "" || q.Seed != "" {
			t.Fatalf("early join = %d %+v", got, q)
		}
	}
	// Live through the gateway: the first event comes at once (flushed).
	resp, err := buyers[0].http.Get(base + path + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(resp.Body)
	line, err := rd.ReadString('\n')
	for err == nil && !strings.HasPrefix(line, "data: ") {
		line, err = rd.ReadString('\n')
	}
	resp.Body.Close()
	if err != nil || !strings.Contains(line, `"state":"shuffling"`) {
		t.Fatalf("the stream's first event: %q %v", line, err)
	}
	var e errorCode
	if got := buyers[0].do("POST", "/api/orders", map[string]string{"eventId": ev.ID}, &e); got != http.StatusForbidden || e.code() != "queue_required" {
		t.Fatalf("reserve before the draw = %d %+v, want 403 queue_required", got, e)
	}
	// The draw at onSaleAt, then a late arrival.
	natsbustest.Eventually(t, 20*time.Second, "the draw", func() bool {
		var q queueJSON
		buyers[0].do("GET", path, nil, &q)
		return q.Position != nil && q.Seed != ""
	})
	late := signUp(t, base, "late@example.com")
	var lq queueJSON
	if late.do("POST", path, nil, &lq); lq.Position == nil || *lq.Position != 3 {
		t.Fatalf("late arrival: %+v, want place 3", lq)
	}
	// The draw, public: the early joiners' receipts, each at its place,
	// the late one's not among them.
	var draw struct {
		Seed  string   `json:"seed"`
		Order []string `json:"order"`
	}
	if got := newClient(t, base).do("GET", path+"/joins", nil, &draw); got != http.StatusOK || len(draw.Order) != 2 || slices.Contains(draw.Order, lq.Receipt) {
		t.Fatalf("the draw = %d %+v, late receipt %s", got, draw, lq.Receipt)
	}
	for _, b := range buyers {
		var q queueJSON
		if b.do("GET", path, nil, &q); q.Position == nil || q.Receipt == "" || draw.Order[*q.Position-1] != q.Receipt || draw.Seed != q.Seed {
			t.Fatalf("a buyer's place %+v is not their receipt's in the draw %v", q, draw.Order)
		}
	}
	// Two tickets × 1.5: the first three places are let in once the
	// tickets are issued.
	admissions := make([]string, 2)
	for i, b := range buyers {
		natsbustest.Eventually(t, 20*time.Second, "an admission", func() bool {
			var q queueJSON
			b.do("GET", path, nil, &q)
			admissions[i] = q.Admission
			return q.State == "admitted" && q.Admission != ""
		})
	}
	if got := buyers[0].do("POST", "/api/orders", map[string]string{"eventId": ev.ID, "admission": admissions[1]}, &e); got != http.StatusForbidden || e.code() != "queue_required" {
		t.Fatalf("reserve with another's admission = %d %+v", got, e)
	}
	for i, b := range buyers {
		natsbustest.Eventually(t, 20*time.Second, "a reservation with the admission", func() bool {
			return b.do("POST", "/api/orders", map[string]string{"eventId": ev.ID, "admission": admissions[i]}, nil) == http.StatusCreated
		})
	}
}

// TestWebQueue: without JavaScript, the event page sends a buyer to the
// waiting room while it is open; they join before the on-sale, the page
// says the places are drawn at random and refreshes itself, then shows
// their turn with a Buy form carrying the admission, which reserves. Buy
// without the admission leads back to the room.
func TestWebQueue(t *testing.T) {
	t.Parallel()
	const key = "webq-test-key-webq-test-key-webq"
	base, _ := startUp(t, t.TempDir(), map[string]string{"JWT_KEY": key})
	org := signUp(t, base, "org@example.com")
	asOrganizer(t, org, key)
	onSale := time.Now().Add(3 * time.Second).UTC()
	starts := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	var ev eventJSON
	if got := org.do("POST", "/api/events", map[string]any{"name": "Big show", "venue": "Arena", "timeZone": "Europe/Amsterdam",
		"startsAt": starts.Format(time.RFC3339), "onSaleAt": onSale.Format(time.RFC3339Nano), "faceValue": "40", "capacity": 1, "queue": true}, &ev); got != http.StatusCreated {
		t.Fatalf("create = %d", got)
	}
	page := "/events/" + ev.ID + "/queue"
	b := webSignUp(t, base, "buyer@example.com")
	webRedirect(t, "the event page while the room is open", b.get("/events/"+ev.ID), page)
	webWant(t, "the room", b.open(page), http.StatusOK, "Join the queue", `aria-live="polite"`, `http-equiv="refresh"`)
	p := b.follow("join", b.post(page, url.Values{}), page)
	webWant(t, "joined before the on-sale", p, http.StatusOK, "drawn at random", `http-equiv="refresh"`, "Seed fingerprint")

	other := webSignUp(t, base, "other@example.com")
	// Once orders has the event (event.created on the bus).
	natsbustest.Eventually(t, 10*time.Second, "buy without an admission sent to the room", func() bool {
		other.open(page)
		p := other.post("/events/"+ev.ID+"/buy", url.Values{})
		return p.status == http.StatusSeeOther && p.location == page
	})

	var adm string
	natsbustest.Eventually(t, 20*time.Second, "the buyer's turn", func() bool {
		p := b.open(page)
		m := regexp.MustCompile(`name="admission" value="([^"]+)"`).FindStringSubmatch(p.body)
		if m != nil {
			adm = html.UnescapeString(m[1])
		}
		return m != nil && strings.Contains(p.body, "It is your turn")
	})
	natsbustest.Eventually(t, 20*time.Second, "a reservation with the admission", func() bool {
		b.open(page)
		p := b.post("/events/"+ev.ID+"/buy", url.Values{"admission": {adm}})
		return p.status == http.StatusSeeOther && strings.HasPrefix(p.location, "/orders/")
	})
}
