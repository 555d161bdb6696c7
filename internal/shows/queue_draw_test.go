package shows

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/admission"
	"github.com/ticketing/ticketing/internal/platform/httpapi/httpapitest"
	"github.com/ticketing/ticketing/internal/platform/natsbus/natsbustest"
	"github.com/ticketing/ticketing/internal/platform/session"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// drawJSON is GET /api/events/{id}/queue/joins's answer.
type drawJSON struct {
	EventID  string   `json:"eventId"`
	SeedHash string   `json:"seedHash"`
	Seed     string   `json:"seed"`
	Count    int      `json:"count"`
	Order    []string `json:"order"`
}

// rederive is the draw as a stranger would compute it from the published
// receipts and seed, written from docs/ARCHITECTURE.md rather than from
// Shuffle: the canonical list is the receipts sorted by their bytes; a
// stream of 64-bit numbers, the first 8 bytes (big-endian) of
// SHA-256(seed ‖ k) for k = 0, 1, … as 8 big-endian bytes; Fisher–Yates
// from the last place down, place i swapped with the next number below
// the largest multiple of i+1 within 2⁶⁴, taken mod i+1.
func rederive(t *testing.T, seedHex string, receipts []string) []string {
	t.Helper()
	seed, err := hex.DecodeString(seedHex)
	if err != nil || len(seed) != 32 {
		t.Fatalf("seed %q is not 32 bytes of hex", seedHex)
	}
	list := append([]string(nil), receipts...)
	sort.Slice(list, func(a, b int) bool { return string(mustBytes(t, list[a])) < string(mustBytes(t, list[b])) })
	two64 := new(big.Int).Lsh(big.NewInt(1), 64)
	var k int64
	next := func() *big.Int {
		msg := append([]byte(nil), seed...)
		kb := big.NewInt(k).FillBytes(make([]byte, 8))
		msg = append(msg, kb...)
		k++
		sum := sha256.Sum256(msg)
		return new(big.Int).SetBytes(sum[:8])
	}
	for i := len(list) - 1; i >= 1; i-- {
		m := big.NewInt(int64(i + 1))
		bound := new(big.Int).Sub(two64, new(big.Int).Mod(two64, m))
		x := next()
		for x.Cmp(bound) >= 0 {
			x = next()
		}
		j := int(new(big.Int).Mod(x, m).Int64())
		list[i], list[j] = list[j], list[i]
	}
	return list
}

func mustBytes(t *testing.T, receipt string) []byte {
	t.Helper()
	b, err := hex.DecodeString(receipt)
	if err != nil || len(b) != receiptLen {
		t.Fatalf("receipt %q is not %d bytes of hex", receipt, receiptLen)
	}
	return b
}

// The draw is pinned: these receipts and this seed (bytes 0…31) give this
// order, in Shuffle and in a re-derivation from the documented algorithm.
// docs/ARCHITECTURE.md quotes the same vector for other implementations.
func TestShuffleKnownAnswer(t *testing.T) {
	var seed [32]byte
	for i := range seed {
		seed[i] = byte(i)
	}
	var receipts []string
	for i := range 8 {
		receipts = append(receipts, fmt.Sprintf("%032x", i*0x1111))
	}
	want := []string{
		"00000000000000000000000000004444", "00000000000000000000000000002222",
		"00000000000000000000000000003333", "00000000000000000000000000001111",
		"00000000000000000000000000006666", "00000000000000000000000000000000",
		"00000000000000000000000000007777", "00000000000000000000000000005555",
	}
	if got := Shuffle(seed, receipts); !slices.Equal(got, want) {
		t.Errorf("Shuffle = %q,\nwant %q", got, want)
	}
	if got := rederive(t, hex.EncodeToString(seed[:]), receipts); !slices.Equal(got, want) {
		t.Errorf("re-derived = %q,\nwant %q", got, want)
	}
	// The order of the input does not matter, only the set.
	rev := slices.Clone(receipts)
	slices.Reverse(rev)
	if got := Shuffle(seed, rev); !slices.Equal(got, want) {
		t.Errorf("Shuffle of the reversed list = %q", got)
	}
}

// Shuffle and the re-derivation agree on many seeds and sizes, the sizes
// that are powers of two (no rejection) and those that are not.
func TestShuffleMatchesRederivation(t *testing.T) {
	src := rand.New(rand.NewPCG(7, 11))
	for _, n := range []int{0, 1, 2, 3, 7, 8, 100, 1000} {
		receipts := make([]string, n)
		for i := range receipts {
			receipts[i] = fmt.Sprintf("%016x%016x", src.Uint64(), src.Uint64())
		}
		for range 5 {
			var seed [32]byte
			for i := range seed {
				seed[i] = byte(src.Uint32())
			}
			if got, want := Shuffle(seed, receipts), rederive(t, hex.EncodeToString(seed[:]), receipts); !slices.Equal(got, want) {
				t.Fatalf("%d receipts, seed %x: Shuffle and the re-derivation differ", n, seed)
			}
		}
	}
}

// The published draw lets a stranger check the order: the seed hashes to
// the hash committed when the room opened, the order is the documented
// shuffle of the published receipts, every early joiner finds their
// receipt at their place (and no late one's is listed), and the room
// lets people in exactly in the published order.
func TestQueueDrawVerifiable(t *testing.T) {
	db := sqldbtest.Open(t, sqldb.SQLite, migs...)
	bus := natsbustest.Embedded(t)
	s, clk := newQueueService(t, db, bus.JetStream(), nil, Config{})
	h := handler(s)
	const early, late, tickets = 200, 5, 20
	const perRound = tickets * 3 / 2 // the limit: 20 tickets × 1.5
	e := mustQueuedEvent(t, s, tickets, tickets)
	path := "/api/events/" + e.ID + "/queue/joins"

	clk.Advance(30 * time.Minute) // the room opens
	receiptOf, seen := map[string]string{}, map[string]bool{}
	var committed string
	for i := range early {
		st := join(t, s, user(i), e.ID)
		if !isReceipt(st.Receipt) || seen[st.Receipt] {
			t.Fatalf("join %d: receipt %q", i, st.Receipt)
		}
		receiptOf[user(i).ID] = st.Receipt
		seen[st.Receipt] = true
		committed = st.SeedHash
	}
	// A second join keeps the receipt, as it keeps the place.
	if st := join(t, s, user(7), e.ID); st.Receipt != receiptOf[user(7).ID] {
		t.Fatalf("second join: receipt %q, was %q", st.Receipt, receiptOf[user(7).ID])
	}
	clk.Advance(30 * time.Minute) // onSaleAt
	for i := early; i < early+late; i++ {
		receiptOf[user(i).ID] = join(t, s, user(i), e.ID).Receipt
	}

	r := httpapitest.Do(t, h, "GET", path, nil, "")
	if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s = %d %s", path, r.Status, r.Body)
	}
	var d drawJSON
	r.Decode(t, &d)
	if d.EventID != e.ID || d.SeedHash != committed || d.Count != early || len(d.Order) != early {
		t.Fatalf("draw: event %s, hash %s (committed %s), count %d, %d receipts; want %d", d.EventID, d.SeedHash, committed, d.Count, len(d.Order), early)
	}
	if !seedMatches(mustHex(t, d.Seed), committed) {
		t.Fatalf("seed %s does not hash to the committed %s", d.Seed, committed)
	}
	if got := rederive(t, d.Seed, d.Order); !slices.Equal(got, d.Order) {
		t.Fatal("the published order is not the documented shuffle of its receipts")
	}
	for i := range early + late {
		u := user(i).ID
		st := status(t, s, u, e.ID)
		if st.Receipt != receiptOf[u] {
			t.Fatalf("%s's status names receipt %q, the join %q", u, st.Receipt, receiptOf[u])
		}
		at := slices.Index(d.Order, st.Receipt)
		switch {
		case i < early && at+1 != st.Position:
			t.Fatalf("early %s at place %d, their receipt at %d of the draw", u, st.Position, at+1)
		case i >= early && at >= 0:
			t.Fatalf("late %s's receipt is in the draw", u)
		}
	}
	// The answer is the same on every read; its ETag spares the copy.
	again := httpapitest.Do(t, h, "GET", path, nil, "")
	if string(again.Body) != string(r.Body) || len(r.Body) != atoi(t, r.Header.Get("Content-Length")) {
		t.Fatalf("second read differs, or Content-Length %s for %d bytes", r.Header.Get("Content-Length"), len(r.Body))
	}
	if got := doIfNoneMatch(t, h, path, r.Header.Get("ETag")); got != http.StatusNotModified {
		t.Fatalf("If-None-Match the ETag = %d, want 304", got)
	}

	// Admission follows the published order: each round (the last
	// round's admissions expired) lets in exactly the next perRound
	// receipts of the draw. The polls come in a random order.
	owner := map[string]string{}
	for u, rc := range receiptOf {
		owner[rc] = u
	}
	rng := rand.New(rand.NewPCG(3, 4))
	admittedIn := map[string]int{}
	for round := 0; len(admittedIn) < early; round++ {
		if round > early/perRound+1 {
			t.Fatalf("%d of %d admitted after %d rounds", len(admittedIn), early, round)
		}
		waiting := slices.Clone(d.Order)
		rng.Shuffle(len(waiting), func(i, j int) { waiting[i], waiting[j] = waiting[j], waiting[i] })
		for _, rc := range waiting {
			if _, done := admittedIn[rc]; done {
				continue
			}
			st := status(t, s, owner[rc], e.ID)
			if st.State == QueueAdmitted {
				if err := admission.Verify(testAdmissionKey, st.Admission, owner[rc], e.ID, clk.Now()); err != nil {
					t.Fatal(err)
				}
				admittedIn[rc] = round
			}
		}
		clk.Advance(admission.TTL)
	}
	for i, rc := range d.Order {
		if admittedIn[rc] != i/perRound {
			t.Fatalf("place %d of the draw admitted in round %d, want %d", i+1, admittedIn[rc], i/perRound)
		}
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}

func doIfNoneMatch(t *testing.T, h http.Handler, path, etag string) int {
	t.Helper()
	if etag == "" {
		t.Fatal("no ETag")
	}
	req, _ := http.NewRequest("GET", path, nil)
	req.Header.Set("If-None-Match", etag)
	w := &statusRecorder{header: http.Header{}}
	h.ServeHTTP(w, req)
	return w.status
}

type statusRecorder struct {
	header http.Header
	status int
}

func (w *statusRecorder) Header() http.Header { return w.header }
func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(b), nil
}
func (w *statusRecorder) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}

// The draw is published only once made: before it, for a room nobody
// opened, for a cancelled event's room, an event without a room or none
// at all, a clear error.
func TestQueueDrawErrors(t *testing.T) {
	db := sqldbtest.Open(t, sqldb.SQLite, migs...)
	bus := natsbustest.Embedded(t)
	s, clk := newQueueService(t, db, bus.JetStream(), nil, Config{})
	h := handler(s)
	joined := mustQueuedEvent(t, s, 10, 10)
	empty := mustQueuedEvent(t, s, 10, 10)
	cancelled := mustQueuedEvent(t, s, 10, 10)
	plain := mustCreate(t, s, draft("Small show", "Bar", 10))
	clk.Advance(30 * time.Minute)
	join(t, s, user(1), joined.ID)
	join(t, s, user(1), cancelled.ID)
	u := user(1)
	tests := []struct {
		name   string
		id     string
		status int
		code   string
	}{
		{"before the draw", joined.ID, http.StatusConflict, "queue_not_drawn"},
		{"a room nobody joined, before the draw", empty.ID, http.StatusConflict, "queue_not_drawn"},
		{"an event without a room", plain.ID, http.StatusConflict, "no_queue"},
		{"an unknown event", "00000000-0000-7000-8000-000000000000", http.StatusNotFound, "not_found"},
		{"a malformed id", "nope", http.StatusNotFound, "not_found"},
	}
	for _, tc := range tests {
		for _, who := range []*session.User{nil, &u} {
			r := httpapitest.Do(t, h, "GET", "/api/events/"+tc.id+"/queue/joins", who, "")
			if r.Status != tc.status || errCode(t, r) != tc.code {
				t.Errorf("%s (signed in %v): %d %s, want %d %s", tc.name, who != nil, r.Status, r.Body, tc.status, tc.code)
			}
		}
	}
	if _, err := s.Cancel(context.Background(), organizer, cancelled.ID); err != nil {
		t.Fatal(err)
	}
	clk.Advance(30 * time.Minute) // onSaleAt
	for _, tc := range []struct {
		name   string
		id     string
		status int
		count  int
	}{
		{"after the draw", joined.ID, http.StatusOK, 1},
		{"a room nobody joined, after the draw", empty.ID, http.StatusOK, 0},
		{"a cancelled event's room, never drawn", cancelled.ID, http.StatusConflict, 0},
	} {
		r := httpapitest.Do(t, h, "GET", "/api/events/"+tc.id+"/queue/joins", nil, "")
		if r.Status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, r.Status, r.Body, tc.status)
			continue
		}
		if tc.status == http.StatusOK {
			var d drawJSON
			r.Decode(t, &d)
			if d.Count != tc.count || len(d.Order) != tc.count || d.Order == nil {
				t.Errorf("%s: %s, want %d receipts", tc.name, r.Body, tc.count)
			}
		} else if errCode(t, r) != "queue_not_drawn" {
			t.Errorf("%s: %s, want queue_not_drawn", tc.name, r.Body)
		}
	}
	// The draw stays published after the room closes.
	clk.Advance(2 * time.Hour)
	if r := httpapitest.Do(t, h, "GET", "/api/events/"+joined.ID+"/queue/joins", nil, ""); r.Status != http.StatusOK {
		t.Fatalf("after the room closed: %d %s", r.Status, r.Body)
	}
}

func errCode(t *testing.T, r httpapitest.Response) string {
	t.Helper()
	var body struct {
		Errors []struct{ Code string } `json:"errors"`
	}
	r.Decode(t, &body)
	if len(body.Errors) == 0 {
		return ""
	}
	return body.Errors[0].Code
}

// BenchmarkQueueDraw times GET /api/events/{id}/queue/joins of a room of
// 100,000 early joiners (through the handler, without a network): the
// whole draw, 3.5 MB, per read.
func BenchmarkQueueDraw(b *testing.B) {
	db := sqldbtest.Open(b, sqldb.SQLite, migs...)
	bus := natsbustest.Embedded(b)
	s, clk := newQueueService(b, db, bus.JetStream(), nil, Config{})
	h := handler(s)
	e := mustQueuedEvent(b, s, 100, 100)
	clk.Advance(30 * time.Minute)
	const n = 100_000
	joinMany(b, s, e.ID, n)
	clk.Advance(30 * time.Minute)
	path := "/api/events/" + e.ID + "/queue/joins"
	t0 := time.Now()
	r := httpapitest.Do(b, h, "GET", path, nil, "")
	var d drawJSON
	r.Decode(b, &d)
	if r.Status != http.StatusOK || d.Count != n {
		b.Fatalf("draw: %d, %d receipts", r.Status, d.Count)
	}
	b.Logf("the draw of %d: %d bytes, the first read (the reveal and the shuffle) %s", n, len(r.Body), time.Since(t0).Round(time.Millisecond))
	b.SetBytes(int64(len(r.Body)))
	for b.Loop() {
		if r := httpapitest.Do(b, h, "GET", path, nil, ""); r.Status != http.StatusOK {
			b.Fatal(r.Status)
		}
	}
}

// joinMany joins users 0…n-1 to the event's room, a few at a time.
func joinMany(tb testing.TB, s *Service, eventID string, n int) {
	tb.Helper()
	const workers = 32
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			for i := w; i < n; i += workers {
				if _, err := s.JoinQueue(context.Background(), user(i), eventID); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			tb.Fatal(err)
		}
	}
}
