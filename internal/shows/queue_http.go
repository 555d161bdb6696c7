package shows

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/httpapi"
)

// queueRoutes registers the waiting room's routes (DESIGN.md 9.5).
func (s *Service) queueRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/events/{id}/queue", httpapi.RequireUser(s.handleQueueJoin))
	mux.HandleFunc("GET /api/events/{id}/queue", s.handleQueueGet)
	mux.HandleFunc("GET /api/events/{id}/queue/stream", s.handleQueueStream)
	mux.HandleFunc("GET /api/events/{id}/queue/joins", s.handleQueueJoins)
}

// queueResponse is QueueStatus as the API shows it. position, ahead and
// estimate (whole seconds) are null while unknown: before the shuffle, or
// without a place.
type queueResponse struct {
	EventID            string    `json:"eventId"`
	State              string    `json:"state"`
	Joined             bool      `json:"joined"`
	Position           *int      `json:"position"`
	Ahead              *int      `json:"ahead"`
	Estimate           *int64    `json:"estimate"`
	Length             int       `json:"length"`
	Admitted           int       `json:"admitted"`
	SeedHash           string    `json:"seedHash,omitempty"`
	Seed               string    `json:"seed,omitempty"`
	Receipt            string    `json:"receipt,omitempty"`
	Admission          string    `json:"admission,omitempty"`
	AdmissionExpiresAt time.Time `json:"admissionExpiresAt,omitzero"`
	OpensAt            time.Time `json:"opensAt"`
	OnSaleAt           time.Time `json:"onSaleAt"`
	ClosesAt           time.Time `json:"closesAt"`
}

func toQueueResponse(st QueueStatus) queueResponse {
	out := queueResponse{EventID: st.EventID, State: st.State, Joined: st.Joined, Length: st.Length,
		Admitted: st.Admitted, SeedHash: st.SeedHash, Seed: st.Seed, Receipt: st.Receipt, Admission: st.Admission,
		AdmissionExpiresAt: st.AdmissionExpires, OpensAt: st.OpensAt, OnSaleAt: st.OnSaleAt, ClosesAt: st.ClosesAt}
	if st.Position > 0 {
		pos, ahead := st.Position, st.Ahead
		out.Position, out.Ahead = &pos, &ahead
	}
	if st.Estimate >= 0 {
		secs := int64(st.Estimate / time.Second)
		out.Estimate = &secs
	}
	return out
}

// handleQueueJoin answers POST /api/events/{id}/queue (no body): the
// caller's place, the first one if they had joined before. 404 for an
// unknown event, 409 no_queue or queue_closed, 429 past the address's
// joins a minute.
func (s *Service) handleQueueJoin(w http.ResponseWriter, r *http.Request) {
	user, _ := httpapi.UserFrom(r.Context())
	if s.joins != nil {
		addr := httpapi.AddrKey(httpapi.ClientAddr(r, s.trusted))
		if ok, wait := s.joins.Take(addr, s.now()); !ok {
			s.log.Warn("queue join rate limited", "client_addr", addr)
			httpapi.Error(w, r, &fault.Error{Kind: fault.TooMany, Message: "Too many joins from your address, try again later", RetryAfter: wait})
			return
		}
	}
	st, err := s.JoinQueue(r.Context(), user, r.PathValue("id"))
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.Respond(w, http.StatusOK, toQueueResponse(st))
}

// handleQueueGet answers GET /api/events/{id}/queue: where the caller
// stands, signed out too (then without a place).
func (s *Service) handleQueueGet(w http.ResponseWriter, r *http.Request) {
	user, _ := httpapi.UserFrom(r.Context())
	st, err := s.QueueStatusOf(r.Context(), user.ID, r.PathValue("id"))
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.Respond(w, http.StatusOK, toQueueResponse(st))
}

// StreamFor is how long one server-sent-event stream of the queue lasts:
// well inside the servers' 60 s write timeout (the gateway's too, which a
// part cannot lift), and short enough not to hold up a shutdown long.
// The browser's EventSource reconnects by itself (retry: 1 s).
const StreamFor = 25 * time.Second

// streamEvery is how often a stream looks again when its room has not
// changed: tickets left (and so admissions) move without the room.
const streamEvery = 2 * time.Second

// streamMinGap is the least time between two looks of a stream.
const streamMinGap = 500 * time.Millisecond

// handleQueueStream answers GET /api/events/{id}/queue/stream: the
// caller's status as GET /api/events/{id}/queue gives it, as server-sent
// events ("event: status"), one at once and one whenever it changes,
// for StreamFor. Errors before the stream starts are JSON, as elsewhere.
func (s *Service) handleQueueStream(w http.ResponseWriter, r *http.Request) {
	user, _ := httpapi.UserFrom(r.Context())
	ctx := r.Context()
	st, err := s.QueueStatusOf(ctx, user.ID, r.PathValue("id"))
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Accel-Buffering", "no") // a buffering proxy in front would hold the events
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 1000\n\n")
	room, err := s.queue.room(ctx, st.EventID)
	if err != nil {
		return
	}
	end := time.NewTimer(StreamFor)
	defer end.Stop()
	tick := time.NewTicker(streamEvery)
	defer tick.Stop()
	var last []byte
	at := time.Now()
	for {
		b, err := json.Marshal(toQueueResponse(st))
		if err != nil {
			return
		}
		if !bytes.Equal(b, last) {
			if _, err := fmt.Fprintf(w, "event: status\ndata: %s\n\n", b); err != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
			last = b
		}
		room.mu.Lock()
		changed := room.changed
		room.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-s.queue.ctx.Done():
			return
		case <-end.C:
			return
		case <-changed:
		case <-tick.C:
		}
		// A busy room changes with every join: look at most twice a
		// second.
		if wait := streamMinGap - time.Since(at); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		at = time.Now()
		if st, err = s.QueueStatusOf(ctx, user.ID, st.EventID); err != nil {
			return
		}
	}
}

// queueJoinsResponse is the head of GET /api/events/{id}/queue/joins; the
// handler writes its order after it, receipt by receipt.
type queueJoinsResponse struct {
	EventID  string `json:"eventId"`
	SeedHash string `json:"seedHash"`
	Seed     string `json:"seed"`
	Count    int    `json:"count"`
}

// handleQueueJoins answers GET /api/events/{id}/queue/joins, public: the
// early joiners' receipts in the order of the draw, with the seed, from
// onSaleAt on; 409 queue_not_drawn before, 409 no_queue, 404. The draw
// never changes once made, so it carries an ETag (its seed's hash) and
// a client that has it gets 304. The order is written receipt by
// receipt rather than built as one value: a room of 100,000 is 3.5 MB.
func (s *Service) handleQueueJoins(w http.ResponseWriter, r *http.Request) {
	d, err := s.QueueDrawOf(r.Context(), r.PathValue("id"))
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	etag := `"draw-` + d.SeedHash + `"`
	h := w.Header()
	h.Set("Cache-Control", "no-cache") // revalidate: the ETag answers 304
	h.Set("ETag", etag)
	h.Set("X-Content-Type-Options", "nosniff")
	if strings.Contains(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	head, err := json.Marshal(queueJoinsResponse{EventID: d.EventID, SeedHash: d.SeedHash, Seed: d.Seed, Count: len(d.Order)})
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(joinsLength(head, d.Order)))
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.Write(head[:len(head)-1])
	bw.WriteString(`,"order":[`)
	var buf [2 + 2*receiptLen + 1]byte
	for i, rc := range d.Order {
		// Hex: nothing to escape.
		b := buf[:0]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = hex.AppendEncode(b, rc[:])
		bw.Write(append(b, '"'))
	}
	bw.WriteString("]}\n")
	bw.Flush()
}

// joinsLength is the length of handleQueueJoins's body.
func joinsLength(head []byte, order []Receipt) int {
	n := len(head) - 1 + len(`,"order":[`) + len("]}\n")
	return n + len(order)*(2*receiptLen+2) + max(len(order)-1, 0)
}
