package shows

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/ticketing/ticketing/internal/platform/admission"
	"github.com/ticketing/ticketing/internal/platform/clock/clocktest"
	"github.com/ticketing/ticketing/internal/platform/httpapi/httpapitest"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/outbox"
	"github.com/ticketing/ticketing/internal/platform/session"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

var testAdmissionKey = []byte("0123456789abcdef0123456789abcdef")

// onSale is the on-sale time of queuedDraft's events: the room opens at
// clocktest.Start + 30 min.
var onSale = clocktest.Start.Add(time.Hour)

// newQueueService is a service with its waiting room on js, over db, on
// clk (a new one at clocktest.Start when nil).
func newQueueService(tb testing.TB, db *sqldb.DB, js jetstream.JetStream, clk *clocktest.Clock, cfg Config) (*Service, *clocktest.Clock) {
	tb.Helper()
	if clk == nil {
		clk = clocktest.New(clocktest.Start)
	}
	ob := outbox.New(db, natsbustest.NopPublisher{}, natsbustest.Logger(tb), outbox.Config{})
	cfg.Now = clk.Now
	s := New(db, ob, natsbustest.Logger(tb), cfg)
	if err := s.EnableQueue(context.Background(), js, QueueConfig{AdmissionKey: testAdmissionKey}); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s, clk
}

// queuedEvent creates an event with a waiting room going on sale at
// onSale, with left of its capacity tickets on sale.
func mustQueuedEvent(tb testing.TB, s *Service, capacity, left int) Event {
	tb.Helper()
	d := draft("Big show", "Arena", 10)
	q, at := true, onSale
	d.Queue, d.OnSaleAt, d.Capacity = &q, &at, &capacity
	e := mustCreate(tb, s, d)
	setStock(tb, s, e.ID, left, capacity)
	return e
}

// setStock counts the event's tickets left and issued as the tickets
// part's events would.
func setStock(tb testing.TB, s *Service, eventID string, left, issued int) {
	tb.Helper()
	e, err := s.Get(context.Background(), eventID)
	if err != nil {
		tb.Fatal(err)
	}
	err = s.db.WithTx(context.Background(), func(tx *sqldb.Tx) error {
		return s.store.AddTicketCounts(context.Background(), tx, eventID, "t", left-int(e.TicketsLeft), issued-int(e.TicketsIssued))
	})
	if err != nil {
		tb.Fatal(err)
	}
	s.forgetEvent(eventID) // as countTicket does
}

func user(i int) session.User { return session.User{ID: fmt.Sprintf("user-%05d", i)} }

func join(tb testing.TB, s *Service, u session.User, eventID string) QueueStatus {
	tb.Helper()
	st, err := s.JoinQueue(context.Background(), u, eventID)
	if err != nil {
		tb.Fatalf("join %s: %v", u.ID, err)
	}
	return st
}

func status(tb testing.TB, s *Service, userID, eventID string) QueueStatus {
	tb.Helper()
	st, err := s.QueueStatusOf(context.Background(), userID, eventID)
	if err != nil {
		tb.Fatalf("status of %s: %v", userID, err)
	}
	return st
}

// The order is the seeded shuffle of the early joiners' receipts (sorted,
// then Fisher–Yates by SHA-256 draws), then the later ones in the order
// they came;
// the room admits in that order, every admission checked, over 10,000
// joins.
func TestQueueAdmitsInQueueOrder(t *testing.T) {
	db := sqldbtest.Open(t, sqldb.SQLite, migs...)
	bus := natsbustest.Embedded(t)
	s, clk := newQueueService(t, db, bus.JetStream(), nil, Config{})
	const early, late, tickets = 6000, 4000, 1000
	e := mustQueuedEvent(t, s, tickets, tickets)

	clk.Advance(30 * time.Minute) // the room opens
	// Arrival order is the reverse of the ids' order: it must not matter.
	var hash string
	byReceipt := map[string]string{}
	for i := early - 1; i >= 0; i-- {
		st := join(t, s, user(i), e.ID)
		if st.State != QueueShuffling || st.Position != 0 || st.SeedHash == "" || st.Seed != "" || !isReceipt(st.Receipt) {
			t.Fatalf("early join: %+v", st)
		}
		hash = st.SeedHash
		byReceipt[st.Receipt] = user(i).ID
	}
	clk.Advance(30 * time.Minute) // onSaleAt: the reveal
	var lateOrder []string
	for i := early; i < early+late; i++ {
		join(t, s, user(i), e.ID)
		lateOrder = append(lateOrder, user(i).ID)
	}
	st := status(t, s, "", e.ID)
	seed, err := hex.DecodeString(st.Seed)
	if err != nil || len(seed) != 32 || st.SeedHash != hash {
		t.Fatalf("reveal: %+v", st)
	}
	if !seedMatches(seed, hash) {
		t.Fatalf("seed %s does not hash to the committed %s", st.Seed, hash)
	}
	var want []string
	for _, rc := range Shuffle([32]byte(seed), slices.Collect(maps.Keys(byReceipt))) {
		want = append(want, byReceipt[rc])
	}
	if len(want) != early {
		t.Fatalf("%d receipts for %d early joiners", len(want), early)
	}
	want = append(want, lateOrder...)

	// Rounds: every waiting user polls (in a random order); the room lets
	// in 1.5 × the free tickets; admissions expire and the next round
	// comes.
	rng := rand.New(rand.NewPCG(1, 2))
	admittedAt := map[string]int{}
	waiting := slices.Clone(want)
	for round := 0; len(waiting) > 0; round++ {
		if round > 20 {
			t.Fatalf("%d still waiting after 20 rounds", len(waiting))
		}
		rng.Shuffle(len(waiting), func(i, j int) { waiting[i], waiting[j] = waiting[j], waiting[i] })
		var still []string
		for _, u := range waiting {
			st := status(t, s, u, e.ID)
			if st.Position != slices.Index(want, u)+1 {
				t.Fatalf("%s at %d, want %d", u, st.Position, slices.Index(want, u)+1)
			}
			switch st.State {
			case QueueAdmitted:
				if err := admission.Verify(testAdmissionKey, st.Admission, u, e.ID, clk.Now()); err != nil {
					t.Fatalf("admission of %s: %v", u, err)
				}
				admittedAt[u] = round
			case QueueWaiting:
				still = append(still, u)
			default:
				t.Fatalf("%s: state %s", u, st.State)
			}
		}
		if n := len(waiting) - len(still); n > tickets*3/2 {
			t.Fatalf("round %d let in %d, more than 1.5 × %d tickets", round, n, tickets)
		}
		waiting = still
		clk.Advance(admission.TTL)
	}
	// Admission order equals queue order: nobody is let in in an earlier
	// round than anyone ahead of them.
	for i := 1; i < len(want); i++ {
		if admittedAt[want[i]] < admittedAt[want[i-1]] {
			t.Fatalf("place %d (%s) admitted in round %d, before place %d in round %d",
				i+1, want[i], admittedAt[want[i]], i, admittedAt[want[i-1]])
		}
	}
}

func seedMatches(seed []byte, hash string) bool {
	h := sha256.Sum256(seed)
	return hex.EncodeToString(h[:]) == hash
}

// Over many seeded runs the rank an early joiner draws is uniform,
// whatever their id or arrival: a chi-square test per joiner, on runs
// seeded from a fixed source so it cannot flake.
func TestShuffleRanksUniform(t *testing.T) {
	const n, runs = 10, 20000
	users := make([]string, n)
	for i := range users {
		users[i] = user(i).ID
	}
	counts := make([][n]int, n) // counts[user][rank]
	src := rand.New(rand.NewPCG(15, 95))
	for range runs {
		var seed [32]byte
		for i := range 4 {
			v := src.Uint64()
			for j := range 8 {
				seed[i*8+j] = byte(v >> (8 * j))
			}
		}
		for rank, u := range Shuffle(seed, users) {
			counts[slices.Index(users, u)][rank]++
		}
	}
	expected := float64(runs) / n
	for u := range n {
		chi := 0.0
		for r := range n {
			d := float64(counts[u][r]) - expected
			chi += d * d / expected
		}
		// 9 degrees of freedom: 27.88 is the 0.999 quantile.
		if chi > 27.88 {
			t.Errorf("user %d's ranks are not uniform: chi-square %.1f, counts %v", u, chi, counts[u])
		}
	}
}

// Joining twice keeps the first place; a new service on the same
// JetStream (a restart, or another replica) serves the same places.
func TestQueueJoinTwiceAndRestart(t *testing.T) {
	db := sqldbtest.Open(t, sqldb.SQLite, migs...)
	bus := natsbustest.Embedded(t)
	s, clk := newQueueService(t, db, bus.JetStream(), nil, Config{})
	e := mustQueuedEvent(t, s, 10, 10)
	clk.Advance(30 * time.Minute)
	for i := range 20 {
		join(t, s, user(i), e.ID)
	}
	clk.Advance(30 * time.Minute)
	join(t, s, user(20), e.ID)
	before := map[string]int{}
	for i := range 21 {
		before[user(i).ID] = status(t, s, user(i).ID, e.ID).Position
	}
	again := join(t, s, user(3), e.ID)
	if again.Position != before[user(3).ID] || again.Length != 21 {
		t.Fatalf("second join: %+v, want place %d of 21", again, before[user(3).ID])
	}
	if before[user(20).ID] != 21 {
		t.Fatalf("the late joiner is at %d, want 21 (behind every early one)", before[user(20).ID])
	}
	s.Close()
	// A new instance on the same bucket and database.
	s2, _ := newQueueService(t, db, bus.JetStream(), clk, Config{})
	for i := range 21 {
		st := status(t, s2, user(i).ID, e.ID)
		if st.Position != before[user(i).ID] {
			t.Fatalf("after restart %s at %d, was %d", user(i).ID, st.Position, before[user(i).ID])
		}
	}
	// Both instances admitted within one limit: 10 tickets × 1.5.
	if st := status(t, s2, user(0).ID, e.ID); st.Admitted != 15 {
		t.Fatalf("admitted %d, want 15", st.Admitted)
	}
}

// Sold out tells everyone waiting at once; tickets that come back let
// the next in.
func TestQueueSoldOutAndReturns(t *testing.T) {
	db := sqldbtest.Open(t, sqldb.SQLite, migs...)
	bus := natsbustest.Embedded(t)
	s, clk := newQueueService(t, db, bus.JetStream(), nil, Config{})
	e := mustQueuedEvent(t, s, 2, 2)
	clk.Advance(30 * time.Minute)
	byReceipt := map[string]string{}
	for i := range 5 {
		byReceipt[join(t, s, user(i), e.ID).Receipt] = user(i).ID
	}
	clk.Advance(30 * time.Minute)
	if st := status(t, s, "", e.ID); st.Admitted != 3 {
		t.Fatalf("admitted %d, want 3 (2 tickets × 1.5)", st.Admitted)
	}
	setStock(t, s, e.ID, 0, 2)
	var order []string
	for _, rc := range Shuffle([32]byte(mustHex(t, status(t, s, "", e.ID).Seed)), slices.Collect(maps.Keys(byReceipt))) {
		order = append(order, byReceipt[rc])
	}
	if st := status(t, s, order[4], e.ID); st.State != QueueSoldOut {
		t.Fatalf("last in line when sold out: %s", st.State)
	}
	clk.Advance(admission.TTL)
	setStock(t, s, e.ID, 1, 2) // a reservation expired
	if st := status(t, s, order[3], e.ID); st.State != QueueAdmitted {
		t.Fatalf("next in line after a ticket came back: %+v", st)
	}
	if st := status(t, s, order[4], e.ID); st.State != QueueWaiting || st.Ahead != 0 {
		t.Fatalf("last in line: %+v", st)
	}
}

func mustHex(tb testing.TB, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		tb.Fatalf("seed %q", s)
	}
	return b
}

func TestQueueHTTP(t *testing.T) {
	db := sqldbtest.Open(t, sqldb.SQLite, migs...)
	bus := natsbustest.Embedded(t)
	s, clk := newQueueService(t, db, bus.JetStream(), nil, Config{JoinsPerMinute: 3})
	h := handler(s)
	e := mustQueuedEvent(t, s, 10, 10)
	plain := mustCreate(t, s, draft("Small show", "Bar", 10))
	u := user(1)
	if r := httpapitest.Do(t, h, "POST", "/api/events/"+e.ID+"/queue", &u, ""); r.Status != http.StatusConflict {
		t.Fatalf("join before the room opens: %d %s", r.Status, r.Body)
	}
	clk.Advance(30 * time.Minute)
	if r := httpapitest.Do(t, h, "POST", "/api/events/"+plain.ID+"/queue", &u, ""); r.Status != http.StatusConflict {
		t.Fatalf("join an event without a queue: %d %s", r.Status, r.Body)
	}
	if r := httpapitest.Do(t, h, "POST", "/api/events/00000000-0000-7000-8000-000000000000/queue", &u, ""); r.Status != http.StatusNotFound {
		t.Fatalf("join an unknown event: %d %s", r.Status, r.Body)
	}
	if r := httpapitest.Do(t, h, "POST", "/api/events/"+e.ID+"/queue", nil, ""); r.Status != http.StatusUnauthorized {
		t.Fatalf("join signed out: %d %s", r.Status, r.Body)
	}
	// The limit is per address: the fourth join a minute is refused.
	clk.Advance(time.Minute) // the refused joins above counted
	for i := range 4 {
		u := user(10 + i)
		r := httpapitest.Do(t, h, "POST", "/api/events/"+e.ID+"/queue", &u, "")
		if i == 3 {
			if r.Status != http.StatusTooManyRequests {
				t.Fatalf("fourth join: %d %s", r.Status, r.Body)
			}
			break
		}
		var st queueResponse
		r.Decode(t, &st)
		if r.Status != http.StatusOK || st.State != QueueShuffling || !st.Joined || st.SeedHash == "" || st.Position != nil {
			t.Fatalf("join: %d %s", r.Status, r.Body)
		}
	}
	clk.Advance(30 * time.Minute)
	var st queueResponse
	u = user(10)
	httpapitest.Do(t, h, "GET", "/api/events/"+e.ID+"/queue", &u, "").Decode(t, &st)
	if st.State != QueueAdmitted || st.Position == nil || st.Seed == "" || st.Admission == "" || st.Estimate == nil {
		t.Fatalf("after the on-sale: %+v", st)
	}
	st = queueResponse{}
	httpapitest.Do(t, h, "GET", "/api/events/"+e.ID+"/queue", nil, "").Decode(t, &st)
	if st.Joined || st.Position != nil || st.Admission != "" || st.Length != 3 {
		t.Fatalf("signed out: %+v", st)
	}
	if r := httpapitest.Do(t, h, "GET", "/api/events/"+plain.ID+"/queue", nil, ""); r.Status != http.StatusConflict {
		t.Fatalf("GET of an event without a queue: %d %s", r.Status, r.Body)
	}
	if r := httpapitest.Do(t, h, "GET", "/api/events/nope/queue", nil, ""); r.Status != http.StatusNotFound {
		t.Fatalf("GET of a bad id: %d %s", r.Status, r.Body)
	}
}

// The stream sends the caller's status at once and again when it
// changes (another joins: the length moves), as server-sent events.
func TestQueueStream(t *testing.T) {
	db := sqldbtest.Open(t, sqldb.SQLite, migs...)
	bus := natsbustest.Embedded(t)
	s, clk := newQueueService(t, db, bus.JetStream(), nil, Config{})
	srv := httptest.NewServer(handler(s))
	defer srv.Close()
	e := mustQueuedEvent(t, s, 10, 10)
	clk.Advance(30 * time.Minute)
	join(t, s, user(1), e.ID)

	req, _ := http.NewRequest("GET", srv.URL+"/api/events/"+e.ID+"/queue/stream", nil)
	req.AddCookie(&http.Cookie{Name: session.CookieName, Value: httpapitest.Token(t, httpapitest.Key, user(1))})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, ct)
	}
	events := make(chan queueResponse)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var q queueResponse
				json.Unmarshal([]byte(data), &q)
				events <- q
			}
		}
		close(events)
	}()
	next := func() queueResponse {
		t.Helper()
		select {
		case q, ok := <-events:
			if !ok {
				t.Fatal("the stream ended")
			}
			return q
		case <-time.After(10 * time.Second):
			t.Fatal("no event within 10 s")
		}
		return queueResponse{}
	}
	if q := next(); q.State != QueueShuffling || !q.Joined || q.Length != 1 {
		t.Fatalf("first event: %+v", q)
	}
	join(t, s, user(2), e.ID)
	if q := next(); q.Length != 2 {
		t.Fatalf("after another join: %+v", q)
	}
	// An event without a queue is a JSON error, not a stream.
	plain := mustCreate(t, s, draft("Small show", "Bar", 10))
	if r := httpapitest.Do(t, handler(s), "GET", "/api/events/"+plain.ID+"/queue/stream", nil, ""); r.Status != http.StatusConflict {
		t.Fatalf("stream of an event without a queue: %d %s", r.Status, r.Body)
	}
}

// Two replicas on one NATS serve one queue: concurrent joins through
// either get one place each, both answer the same places, and
// concurrent reads through both never let in more than the limit.
func TestQueueReplicasAgree(t *testing.T) {
	srv := natsbustest.StartServer(t)
	cfg := sqldbtest.Config(t, sqldb.SQLite, migs...)
	db1, db2 := sqldbtest.OpenConfig(t, cfg), sqldbtest.OpenConfig(t, cfg)
	clk := clocktest.New(clocktest.Start)
	s1, _ := newQueueService(t, db1, srv.Connect(t).JetStream(), clk, Config{})
	s2, _ := newQueueService(t, db2, srv.Connect(t).JetStream(), clk, Config{})
	e := mustQueuedEvent(t, s1, 20, 20)
	clk.Advance(30 * time.Minute)
	replicas := []*Service{s1, s2}
	joinAll := func(from, to int) {
		errs := make(chan error, to-from)
		for i := from; i < to; i++ {
			go func() {
				_, err := replicas[i%2].JoinQueue(context.Background(), user(i), e.ID)
				errs <- err
			}()
		}
		for range to - from {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}
	joinAll(0, 200)
	clk.Advance(30 * time.Minute)
	joinAll(200, 300)
	// Reads through both at once: each may let the next in.
	done := make(chan QueueStatus, 600)
	for i := range 300 {
		for _, s := range replicas {
			go func() {
				st, err := s.QueueStatusOf(context.Background(), user(i).ID, e.ID)
				if err != nil {
					t.Error(err)
				}
				done <- st
			}()
		}
	}
	for range 600 {
		<-done
	}
	seen := map[int]string{}
	for i := range 300 {
		a, b := status(t, s1, user(i).ID, e.ID), status(t, s2, user(i).ID, e.ID)
		if a.Position != b.Position || a.Position < 1 || a.Position > 300 {
			t.Fatalf("%s: place %d on one replica, %d on the other", user(i).ID, a.Position, b.Position)
		}
		if other, dup := seen[a.Position]; dup {
			t.Fatalf("place %d given to %s and %s", a.Position, other, user(i).ID)
		}
		seen[a.Position] = user(i).ID
		if early := i < 200; early != (a.Position <= 200) {
			t.Fatalf("%s (early %v) at place %d", user(i).ID, early, a.Position)
		}
		if a.Admitted != 30 || b.Admitted != 30 {
			t.Fatalf("admitted %d and %d, want 30 (20 tickets × 1.5)", a.Admitted, b.Admitted)
		}
	}
}

// A view nobody asked for in roomIdle stops its watch and leaves the
// cache; the next request builds it again from the bucket, places intact.
func TestQueueIdleRoomsLeave(t *testing.T) {
	db := sqldbtest.Open(t, sqldb.SQLite, migs...)
	bus := natsbustest.Embedded(t)
	s, clk := newQueueService(t, db, bus.JetStream(), nil, Config{})
	e := mustQueuedEvent(t, s, 10, 10)
	other := mustQueuedEvent(t, s, 10, 10)
	clk.Advance(time.Hour)
	first := join(t, s, user(1), e.ID)
	q := s.queue
	q.mu.Lock()
	r := q.rooms[e.ID]
	r.used, q.swept = time.Now().Add(-roomIdle), time.Time{}
	q.mu.Unlock()
	status(t, s, "", other.ID) // sweeps
	natsbustest.Eventually(t, 5*time.Second, "the idle room's watch stops", r.failed)
	q.mu.Lock()
	_, kept := q.rooms[e.ID]
	q.mu.Unlock()
	if kept {
		t.Fatal("the idle room is still cached")
	}
	if st := status(t, s, user(1).ID, e.ID); st.Position != first.Position || st.Length != 1 {
		t.Fatalf("rebuilt: %+v, was %+v", st, first)
	}
}

// BenchmarkQueueStatus times a position read of a room of 10,000 (GET
// /api/events/{id}/queue without HTTP), read in parallel as many pollers
// would: the view answers the place, the database the tickets left.
func BenchmarkQueueStatus(b *testing.B) {
	db := sqldbtest.Open(b, sqldb.SQLite, migs...)
	bus := natsbustest.Embedded(b)
	s, clk := newQueueService(b, db, bus.JetStream(), nil, Config{})
	e := mustQueuedEvent(b, s, 100, 100)
	clk.Advance(time.Hour)
	const n = 10_000
	for i := range n {
		join(b, s, user(i), e.ID)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(n)
		for pb.Next() {
			if _, err := s.QueueStatusOf(context.Background(), user(i%n).ID, e.ID); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// The room trusts a cached read of its event for a moment only, and a
// change through this replica not at all: a cancellation closes the room
// at once.
func TestQueueSeesChangesAtOnce(t *testing.T) {
	db := sqldbtest.Open(t, sqldb.SQLite, migs...)
	bus := natsbustest.Embedded(t)
	s, clk := newQueueService(t, db, bus.JetStream(), nil, Config{})
	e := mustQueuedEvent(t, s, 10, 10)
	clk.Advance(30 * time.Minute)
	if st := join(t, s, user(1), e.ID); st.State != QueueShuffling {
		t.Fatalf("join: %+v", st)
	}
	if _, err := s.Cancel(context.Background(), organizer, e.ID); err != nil {
		t.Fatal(err)
	}
	if st := status(t, s, user(1).ID, e.ID); st.State != QueueClosed {
		t.Fatalf("after the cancellation: %s", st.State)
	}
	if _, err := s.JoinQueue(context.Background(), user(2), e.ID); !errors.Is(err, ErrQueueClosed) {
		t.Fatalf("join after the cancellation: %v", err)
	}
}
