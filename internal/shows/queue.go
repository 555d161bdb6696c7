package shows

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/ticketing/ticketing/internal/events"
	"github.com/ticketing/ticketing/internal/platform/admission"
	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/session"
)

// The waiting room (DESIGN.md section 9.5). Its state lives in one
// JetStream key-value bucket, QueueBucket, so every replica of the part
// serves the same queue and a restart loses no place; each replica keeps
// a view of a room it serves, fed by a watch of the room's keys, from
// which positions are read without a round trip. Keys, per event:
//
//	<event>.seed          {"seed","hash"}: created once when the room opens
//	<event>.reveal        {"seed"}: created once at onSaleAt; every join
//	                      stored before it (a lower revision) is shuffled,
//	                      every one after it queues first come first served
//	<event>.join.<user>   {"at","receipt"}: created once per account (a
//	                      second join finds it and keeps the first place);
//	                      the receipt is the join's public name
//	<event>.admit         {"n","expiredTo","batches"}: how far the room has
//	                      admitted, updated by compare-and-set
//
// Creating a key is atomic in the bucket, so two replicas racing to make
// the seed or the reveal agree on one; the bucket's revisions order the
// joins and the reveal, so which joins are early is the same for everyone,
// whatever the replicas' clocks.

// QueueBucket is the key-value bucket of the waiting rooms.
const QueueBucket = "QUEUES"

const (
	// RoomOpensBefore is how long before onSaleAt the room opens.
	RoomOpensBefore = events.QueueOpensBefore
	// RoomOpenAfter is how long after onSaleAt the room stays open (or
	// until the event sells out); after it a reservation needs no
	// admission.
	RoomOpenAfter = events.QueueOpenAfter
	// DefaultAdmitFactor is how many shoppers the room lets in per free
	// ticket.
	DefaultAdmitFactor = 1.5
)

// The queue's states as GET /api/events/{id}/queue reports them.
const (
	QueueWaiting   = "waiting"
	QueueShuffling = "shuffling"
	QueueAdmitted  = "admitted"
	QueueExpired   = "expired"
	QueueSoldOut   = "sold_out"
	QueueClosed    = "closed"
)

var (
	// ErrNoQueue is a queue request for an event without a waiting room.
	ErrNoQueue = fault.Coded(fault.Conflict, "no_queue", "This event's sale has no waiting room")
	// ErrQueueClosed is a join when the room is not open: before
	// onSaleAt − 30 min, after onSaleAt + 1 h, or for a cancelled event.
	ErrQueueClosed = fault.Coded(fault.Conflict, "queue_closed", "The waiting room is not open")
	// ErrQueueUnavailable is a queue request of a part run without
	// JetStream.
	ErrQueueUnavailable = fault.New(fault.Unavailable, "The waiting room is unavailable; try again later")
	// ErrQueueNotDrawn is a request for the early joiners' draw before
	// the seed is revealed (onSaleAt), or of a room nobody opened.
	ErrQueueNotDrawn = fault.Coded(fault.Conflict, "queue_not_drawn", "The waiting room's order is drawn when sales open")
)

// QueueConfig tunes the waiting room.
type QueueConfig struct {
	// Replicas is the bucket's replication factor in a NATS cluster.
	Replicas int
	// AdmissionKey signs admissions (admission.Key of the session key).
	AdmissionKey []byte
	// AdmitFactor: admitted-and-active shoppers never exceed the free
	// tickets times it. Default DefaultAdmitFactor.
	AdmitFactor float64
	// AdmissionTTL is how long an admission lasts. Default admission.TTL.
	AdmissionTTL time.Duration
}

// queue is the service's waiting room: the bucket and the views of the
// rooms this replica has served.
type queue struct {
	kv     jetstream.KeyValue
	cfg    QueueConfig
	ctx    context.Context // the watches' lifetime
	cancel context.CancelFunc

	mu    sync.Mutex
	rooms map[string]*room
	swept time.Time // the last look for idle rooms

	evMu   sync.Mutex
	events map[string]freshEvent // recentEvent's cache
}

// EnableQueue creates (or finds) the waiting rooms' bucket on js and
// serves the queue routes from it. Without it they answer 503.
func (s *Service) EnableQueue(ctx context.Context, js jetstream.JetStream, cfg QueueConfig) error {
	if cfg.AdmitFactor <= 0 {
		cfg.AdmitFactor = DefaultAdmitFactor
	}
	if cfg.AdmissionTTL <= 0 {
		cfg.AdmissionTTL = admission.TTL
	}
	if len(cfg.AdmissionKey) == 0 {
		return errors.New("events: the waiting room needs an admission key")
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      QueueBucket,
		Description: "The waiting rooms of queued on-sales (DESIGN.md 9.5)",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    max(cfg.Replicas, 1),
	})
	if err != nil {
		return fmt.Errorf("events: queue bucket: %w", err)
	}
	qctx, cancel := context.WithCancel(context.Background())
	s.queue = &queue{kv: kv, cfg: cfg, ctx: qctx, cancel: cancel, rooms: map[string]*room{}, events: map[string]freshEvent{}}
	return nil
}

// Close stops the waiting rooms' watches.
func (s *Service) Close() error {
	if s.queue != nil {
		s.queue.cancel()
	}
	return nil
}

type seedValue struct {
	Seed string `json:"seed"` // hex of 32 random bytes
	Hash string `json:"hash"` // hex of the seed's SHA-256
}

// joinValue is a place. Receipt (receiptLen random bytes, hex) names the
// place in public: the draw publishes receipts, never user ids, and the
// joiner finds theirs in their own status.
type joinValue struct {
	At      time.Time `json:"at"`
	Receipt string    `json:"receipt,omitempty"`
}

// receiptLen is a receipt's size in bytes: 128 random bits never repeat
// in a room and cannot be guessed.
const receiptLen = 16

// Receipt is a place's public name. The view keeps it as bytes (a room
// of 100,000 holds 100,000); its text is lower-case hex.
type Receipt [receiptLen]byte

func (rc Receipt) String() string { return hex.EncodeToString(rc[:]) }

func newReceipt() Receipt {
	var rc Receipt
	rand.Read(rc[:])
	return rc
}

// parseReceipt reads a receipt's text: receiptLen bytes in lower-case hex.
func parseReceipt(s string) (Receipt, bool) {
	var rc Receipt
	if len(s) != 2*receiptLen {
		return rc, false
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return rc, false
		}
	}
	hex.Decode(rc[:], []byte(s))
	return rc, true
}

// isReceipt says whether s is a receipt's text.
func isReceipt(s string) bool {
	_, ok := parseReceipt(s)
	return ok
}

// legacyReceipt names a place stored without a receipt (before receipts
// existed) by the join's revision in the bucket: the same on every
// replica, and saying nothing of the user.
func legacyReceipt(rev uint64) Receipt {
	var rc Receipt
	binary.BigEndian.PutUint64(rc[receiptLen-8:], rev)
	return rc
}

// admitValue is how far a room has admitted: the first N places of the
// order. Batches are the admissions still active, oldest first; the
// places before ExpiredTo were admitted longer than the admission's life
// ago.
type admitValue struct {
	N         int     `json:"n"`
	ExpiredTo int     `json:"expiredTo"`
	Batches   []batch `json:"batches"`
}

// batch is the places [From, To) of the order admitted At.
type batch struct {
	From int       `json:"from"`
	To   int       `json:"to"`
	At   time.Time `json:"at"`
}

// expire moves the batches that have expired at now into ExpiredTo.
func (a *admitValue) expire(now time.Time, ttl time.Duration) {
	i := 0
	for i < len(a.Batches) && !a.Batches[i].At.Add(ttl).After(now) {
		a.ExpiredTo = a.Batches[i].To
		i++
	}
	a.Batches = slices.Clone(a.Batches[i:])
}

// active is how many admitted shoppers are active at now.
func (a admitValue) active(now time.Time, ttl time.Duration) int {
	n := 0
	for _, b := range a.Batches {
		if b.At.Add(ttl).After(now) {
			n += b.To - b.From
		}
	}
	return n
}

// room is one replica's view of one event's waiting room, fed by a watch
// of its keys in revision order.
type room struct {
	id string
	// stop ends the watch; used (under queue.mu) is when it was last
	// asked for.
	stop context.CancelFunc
	used time.Time

	mu      sync.Mutex
	changed chan struct{} // closed and replaced at every change
	ready   bool          // the keys stored before the watch have come
	err     error         // the watch ended
	lastRev uint64
	seed    *seedValue
	// revealed is set when the reveal came: order then holds the
	// shuffled early joiners and, after them, every later one.
	revealed bool
	early    []string // joined before the reveal, until it comes
	order    []string
	pos      map[string]int // user → index in order
	// receipts holds every place (user → receipt): who has joined.
	receipts map[string]Receipt
	// drawn is the early joiners' receipts in the order of the draw
	// (Shuffle), set at the reveal and never changed after: what GET
	// /api/events/{id}/queue/joins publishes.
	drawn    []Receipt
	admit    admitValue
	admitRev uint64
}

// keyToken matches what a key token may hold (NATS KV keys).
var keyToken = regexp.MustCompile(`^[-_=a-zA-Z0-9]+$`)

// roomIdle is how long a view nobody asks for is kept: then its watch
// (an ordered consumer on the server) stops, and the next request builds
// the view again from the bucket. Rooms of past sales do not pile up.
const roomIdle = 10 * time.Minute

// room returns this replica's view of the event's room, starting its
// watch the first time and waiting until it has caught up.
func (q *queue) room(ctx context.Context, eventID string) (*room, error) {
	now := time.Now() // the cache's own clock, not the sale's
	q.mu.Lock()
	if now.Sub(q.swept) >= time.Minute {
		q.swept = now
		for id, old := range q.rooms {
			if now.Sub(old.used) >= roomIdle {
				old.stop()
				delete(q.rooms, id)
			}
		}
	}
	r := q.rooms[eventID]
	if r == nil || r.failed() {
		wctx, stop := context.WithCancel(q.ctx)
		r = &room{id: eventID, changed: make(chan struct{}), pos: map[string]int{}, receipts: map[string]Receipt{}, stop: stop}
		w, err := q.kv.Watch(wctx, eventID+".>")
		if err != nil {
			stop()
			q.mu.Unlock()
			return nil, fmt.Errorf("watch queue %s: %w", eventID, err)
		}
		go r.follow(wctx, w)
		q.rooms[eventID] = r
	}
	r.used = now
	q.mu.Unlock()
	return r, r.wait(ctx, func() bool { return r.ready })
}

func (r *room) failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err != nil
}

// follow applies the watch's entries until it ends or ctx is done.
func (r *room) follow(ctx context.Context, w jetstream.KeyWatcher) {
	defer w.Stop()
	for {
		var e jetstream.KeyValueEntry
		var ok bool
		select {
		case e, ok = <-w.Updates():
		case <-ctx.Done():
		}
		if !ok {
			break
		}
		r.mu.Lock()
		if e == nil {
			r.ready = true
		} else {
			r.apply(e)
		}
		close(r.changed)
		r.changed = make(chan struct{})
		r.mu.Unlock()
	}
	r.mu.Lock()
	r.err = errors.New("queue watch ended")
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// apply takes one entry of the room's keys into the view. Callers hold mu.
func (r *room) apply(e jetstream.KeyValueEntry) {
	if e.Revision() <= r.lastRev {
		return
	}
	r.lastRev = e.Revision()
	if e.Operation() != jetstream.KeyValuePut {
		return
	}
	key := e.Key()[len(r.id)+1:]
	switch {
	case key == "seed":
		var v seedValue
		if json.Unmarshal(e.Value(), &v) == nil {
			r.seed = &v
		}
	case key == "reveal":
		var v seedValue
		if json.Unmarshal(e.Value(), &v) != nil || r.revealed {
			return
		}
		seed, err := hex.DecodeString(v.Seed)
		if err != nil || len(seed) != 32 {
			return
		}
		// The draw is over the receipts, which anyone may see; each
		// user goes with theirs.
		places := make([]place, len(r.early))
		for i, u := range r.early {
			places[i] = place{r.receipts[u], u}
		}
		slices.SortFunc(places, func(a, b place) int { return bytes.Compare(a.rc[:], b.rc[:]) })
		shuffleSorted([32]byte(seed), places)
		r.drawn = make([]Receipt, len(places))
		r.order = make([]string, len(places), len(places)+len(places)/4)
		for i, p := range places {
			r.drawn[i], r.order[i] = p.rc, p.user
			r.pos[p.user] = i
		}
		r.early = nil
		r.revealed = true
	case key == "admit":
		var v admitValue
		if json.Unmarshal(e.Value(), &v) == nil {
			r.admit, r.admitRev = v, e.Revision()
		}
	case len(key) > len("join.") && key[:len("join.")] == "join.":
		u := key[len("join."):]
		if _, ok := r.receipts[u]; ok {
			return
		}
		var v joinValue
		json.Unmarshal(e.Value(), &v)
		rc, ok := parseReceipt(v.Receipt)
		if !ok {
			rc = legacyReceipt(e.Revision())
		}
		r.receipts[u] = rc
		if !r.revealed {
			r.early = append(r.early, u)
			return
		}
		r.pos[u] = len(r.order)
		r.order = append(r.order, u)
	}
}

// wait blocks until cond (read under mu) holds, the watch ends, or ctx
// is done.
func (r *room) wait(ctx context.Context, cond func() bool) error {
	for {
		r.mu.Lock()
		ok, err, ch := cond(), r.err, r.changed
		r.mu.Unlock()
		switch {
		case ok:
			return nil
		case err != nil:
			return err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// waitRev waits until the view holds revision rev of the bucket.
func (r *room) waitRev(ctx context.Context, rev uint64) error {
	return r.wait(ctx, func() bool { return r.lastRev >= rev })
}

// Shuffle is the order of the early joiners, given their receipts: a
// pure function of the seed and the set of receipts, so anyone with the
// published draw re-derives it (docs/ARCHITECTURE.md gives it exactly):
//
//  1. sort the receipts ascending by their bytes (the canonical list);
//  2. Fisher–Yates: for i from len−1 down to 1, swap places i and
//     j = draw(i+1);
//  3. draw(m) takes the next 64-bit number x of the stream — the first 8
//     bytes, big-endian, of SHA-256(seed ‖ k) with k the 8-byte
//     big-endian count of numbers taken so far (from 0) — and returns
//     x mod m, unless x ≥ 2⁶⁴ − (2⁶⁴ mod m), when it takes the next
//     (rejection, so every j is equally likely).
//
// SHA-256 rather than a library generator: any language has it, and
// nothing else is needed to check the draw.
func Shuffle(seed [32]byte, receipts []string) []string {
	out := slices.Clone(receipts)
	slices.Sort(out) // hex in lower case sorts as its bytes
	shuffleSorted(seed, out)
	return out
}

// place is a user and their receipt, as the reveal draws them.
type place struct {
	rc   Receipt
	user string
}

// shuffleSorted is Shuffle's steps 2 and 3 on a list already in the
// canonical order.
func shuffleSorted[T any](seed [32]byte, list []T) {
	d := drawer{}
	copy(d.msg[:32], seed[:])
	for i := len(list) - 1; i > 0; i-- {
		j := d.draw(uint64(i + 1))
		list[i], list[j] = list[j], list[i]
	}
}

// drawer is Shuffle's stream of numbers: msg is the seed followed by the
// count k.
type drawer struct {
	msg [40]byte
	k   uint64
}

// draw returns a number in [0, m), every one equally likely.
func (d *drawer) draw(m uint64) uint64 {
	// 2⁶⁴ mod m, in 64 bits: (2⁶⁴ − m) mod m.
	rest := -m % m
	for {
		binary.BigEndian.PutUint64(d.msg[32:], d.k)
		d.k++
		h := sha256.Sum256(d.msg[:])
		x := binary.BigEndian.Uint64(h[:8])
		if x <= math.MaxUint64-rest {
			return x % m
		}
	}
}

// create stores key once; an existing key is left as it is.
func (q *queue) create(ctx context.Context, key string, v any) (uint64, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, err
	}
	rev, err := q.kv.Create(ctx, key, b)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return 0, nil
	}
	return rev, err
}

// prepare makes sure of the room's seed once it is open and of its
// reveal from onSaleAt.
func (q *queue) prepare(ctx context.Context, r *room, e Event, now time.Time) error {
	r.mu.Lock()
	seed, revealed := r.seed, r.revealed
	r.mu.Unlock()
	if seed == nil {
		var b [32]byte
		rand.Read(b[:])
		h := sha256.Sum256(b[:])
		rev, err := q.create(ctx, e.ID+".seed", seedValue{Seed: hex.EncodeToString(b[:]), Hash: hex.EncodeToString(h[:])})
		if err != nil {
			return fmt.Errorf("queue seed: %w", err)
		}
		if err := r.wait(ctx, func() bool { return r.seed != nil && r.lastRev >= rev }); err != nil {
			return err
		}
	}
	if revealed || now.Before(e.OnSaleAt) {
		return nil
	}
	r.mu.Lock()
	seed = r.seed
	r.mu.Unlock()
	rev, err := q.create(ctx, e.ID+".reveal", seedValue{Seed: seed.Seed, Hash: seed.Hash})
	if err != nil {
		return fmt.Errorf("queue reveal: %w", err)
	}
	return r.wait(ctx, func() bool { return r.revealed && r.lastRev >= rev })
}

// eventFresh is how long a queue request trusts an event read by another
// (its times, its tickets left): the many polls of a waiting room cost
// one database read per event per replica a quarter second, and an
// admission waits at most that long for a ticket that came back. A change
// through this replica (an edit, a ticket counted) is seen at once.
const eventFresh = 250 * time.Millisecond

type freshEvent struct {
	e  Event
	at time.Time // the cache's own clock, not the sale's
}

// recentEvent is Get, from the queue's cache when it was read less than
// eventFresh ago.
func (s *Service) recentEvent(ctx context.Context, id string) (Event, error) {
	q := s.queue
	if q == nil {
		return s.Get(ctx, id)
	}
	q.evMu.Lock()
	f, ok := q.events[id]
	q.evMu.Unlock()
	if ok && time.Since(f.at) < eventFresh {
		e := f.e
		e.Settle(s.now())
		return e, nil
	}
	e, err := s.Get(ctx, id)
	if err != nil {
		return Event{}, err
	}
	q.evMu.Lock()
	if len(q.events) >= maxFreshEvents {
		clear(q.events)
	}
	q.events[id] = freshEvent{e: e, at: time.Now()}
	q.evMu.Unlock()
	return e, nil
}

// maxFreshEvents bounds the cache: requests for many events at once
// (a crawler) start it afresh rather than grow it.
const maxFreshEvents = 10_000

// forgetEvent drops the cached read of an event this replica changed.
func (s *Service) forgetEvent(id string) {
	if q := s.queue; q != nil {
		q.evMu.Lock()
		delete(q.events, id)
		q.evMu.Unlock()
	}
}

// QueueStatus is where a caller stands in an event's waiting room.
type QueueStatus struct {
	EventID string
	State   string
	// Joined says the caller has a place.
	Joined bool
	// Position is the caller's place, from 1, once the order is drawn; 0
	// before or without one.
	Position int
	// Ahead is how many not yet admitted wait before the caller.
	Ahead int
	// Estimate is roughly how long until the caller is let in; -1 when
	// unknown.
	Estimate time.Duration
	// Length is how many have joined; Admitted how many places the room
	// has let in.
	Length, Admitted int
	// SeedHash is published from the opening, Seed from onSaleAt.
	SeedHash, Seed string
	// Receipt is the public name of the caller's place: the draw
	// (QueueDraw) lists it, never the user.
	Receipt string
	// Admission is the caller's signed admission while it is valid.
	Admission        string
	AdmissionExpires time.Time
	OpensAt          time.Time
	OnSaleAt         time.Time
	ClosesAt         time.Time
}

// roomOpen says whether the room of e is open at now.
func roomOpen(e Event, now time.Time) bool {
	return e.Status == StatusScheduled && !now.Before(e.OnSaleAt.Add(-RoomOpensBefore)) &&
		now.Before(e.OnSaleAt.Add(RoomOpenAfter))
}

// queuedEvent reads the event of a queue request: ErrNotFound, ErrNoQueue,
// ErrQueueUnavailable.
func (s *Service) queuedEvent(ctx context.Context, eventID string) (Event, error) {
	e, err := s.recentEvent(ctx, eventID)
	if err != nil {
		return Event{}, err
	}
	if !e.Queue {
		return Event{}, ErrNoQueue
	}
	if s.queue == nil {
		return Event{}, ErrQueueUnavailable
	}
	return e, nil
}

// JoinQueue gives the user a place in the event's waiting room, once: a
// second join keeps the first place. ErrNotFound, ErrNoQueue,
// ErrQueueClosed.
func (s *Service) JoinQueue(ctx context.Context, user session.User, eventID string) (QueueStatus, error) {
	e, err := s.queuedEvent(ctx, eventID)
	if err != nil {
		return QueueStatus{}, err
	}
	now := s.now()
	if !roomOpen(e, now) {
		return QueueStatus{}, ErrQueueClosed
	}
	if !keyToken.MatchString(user.ID) {
		return QueueStatus{}, fmt.Errorf("user id %q cannot be a queue key", user.ID)
	}
	q := s.queue
	r, err := q.room(ctx, e.ID)
	if err != nil {
		return QueueStatus{}, err
	}
	if err := q.prepare(ctx, r, e, now); err != nil {
		return QueueStatus{}, err
	}
	rev, err := q.create(ctx, e.ID+".join."+user.ID, joinValue{At: now.UTC(), Receipt: newReceipt().String()})
	if err != nil {
		return QueueStatus{}, fmt.Errorf("join queue: %w", err)
	}
	if err := r.waitRev(ctx, rev); err != nil {
		return QueueStatus{}, err
	}
	return s.status(ctx, r, e, user.ID, now)
}

// QueueStatusOf says where userID ("" signed out) stands in the event's
// waiting room, letting the next in line in when the sale can take them.
func (s *Service) QueueStatusOf(ctx context.Context, userID, eventID string) (QueueStatus, error) {
	e, err := s.queuedEvent(ctx, eventID)
	if err != nil {
		return QueueStatus{}, err
	}
	now := s.now()
	q := s.queue
	r, err := q.room(ctx, e.ID)
	if err != nil {
		return QueueStatus{}, err
	}
	if roomOpen(e, now) {
		if err := q.prepare(ctx, r, e, now); err != nil {
			return QueueStatus{}, err
		}
	}
	if userID != "" && keyToken.MatchString(userID) {
		r.mu.Lock()
		_, joined := r.receipts[userID]
		r.mu.Unlock()
		if !joined {
			// Joined through another replica a moment ago?
			entry, err := q.kv.Get(ctx, e.ID+".join."+userID)
			switch {
			case errors.Is(err, jetstream.ErrKeyNotFound):
			case err != nil:
				return QueueStatus{}, fmt.Errorf("queue join of %s: %w", userID, err)
			default:
				if err := r.waitRev(ctx, entry.Revision()); err != nil {
					return QueueStatus{}, err
				}
			}
		}
	}
	return s.status(ctx, r, e, userID, now)
}

// QueueDraw is the published draw of an event's waiting room: the early
// joiners' receipts in the order Shuffle gave them, and the seed it was
// drawn with.
type QueueDraw struct {
	EventID        string
	SeedHash, Seed string
	// Order is the early joiners' receipts, place 1 first. It is the
	// room's own list, never changed after the draw: read it, do not
	// write it.
	Order []Receipt
}

// QueueDrawOf is the draw of the event's waiting room once the seed is
// revealed (from onSaleAt; it stays published after the room closes).
// ErrNotFound, ErrNoQueue, ErrQueueUnavailable, ErrQueueNotDrawn.
func (s *Service) QueueDrawOf(ctx context.Context, eventID string) (QueueDraw, error) {
	e, err := s.queuedEvent(ctx, eventID)
	if err != nil {
		return QueueDraw{}, err
	}
	now := s.now()
	q := s.queue
	r, err := q.room(ctx, e.ID)
	if err != nil {
		return QueueDraw{}, err
	}
	if roomOpen(e, now) {
		// The first request after onSaleAt reveals, whatever it is.
		if err := q.prepare(ctx, r, e, now); err != nil {
			return QueueDraw{}, err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.revealed || r.seed == nil {
		return QueueDraw{}, ErrQueueNotDrawn
	}
	return QueueDraw{EventID: e.ID, SeedHash: r.seed.Hash, Seed: r.seed.Seed, Order: r.drawn}, nil
}

// status reads the caller's place from the view, first letting in as
// many as the sale can take.
func (s *Service) status(ctx context.Context, r *room, e Event, userID string, now time.Time) (QueueStatus, error) {
	q := s.queue
	ttl := q.cfg.AdmissionTTL
	open := roomOpen(e, now)
	soldOut := e.TicketsLeft <= 0 && e.TicketsIssued >= int64(e.Capacity)
	if open && !soldOut {
		if err := s.admitNext(ctx, r, e, now); err != nil {
			return QueueStatus{}, err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := QueueStatus{EventID: e.ID, Estimate: -1, Length: len(r.receipts), Admitted: r.admit.N,
		OpensAt: e.OnSaleAt.Add(-RoomOpensBefore), OnSaleAt: e.OnSaleAt, ClosesAt: e.OnSaleAt.Add(RoomOpenAfter)}
	if r.seed != nil {
		st.SeedHash = r.seed.Hash
		if r.revealed {
			st.Seed = r.seed.Seed
		}
	}
	rc, joined := r.receipts[userID]
	st.Joined = userID != "" && joined
	if st.Joined {
		st.Receipt = rc.String()
	}
	i, placed := r.pos[userID]
	if st.Joined && placed {
		st.Position = i + 1
		st.Ahead = max(0, i-r.admit.N)
	}
	perWindow := max(1, int(math.Floor(float64(max(e.TicketsLeft, 0))*q.cfg.AdmitFactor)))
	switch {
	case st.Joined && placed && i < r.admit.N:
		st.State = QueueAdmitted
		st.Estimate = 0
		b, ok := findBatch(r.admit, i)
		if !ok || !b.At.Add(ttl).After(now) {
			st.State = QueueExpired
			break
		}
		st.AdmissionExpires = b.At.Add(ttl)
		tok, err := admission.Issue(q.cfg.AdmissionKey, userID, e.ID, st.AdmissionExpires)
		if err != nil {
			return QueueStatus{}, err
		}
		st.Admission = tok
	case !open:
		st.State = QueueClosed
	case soldOut:
		st.State = QueueSoldOut
	case st.Joined && !placed:
		st.State = QueueShuffling
	default:
		st.State = QueueWaiting
		if st.Joined {
			st.Estimate = ttl * time.Duration((st.Ahead+perWindow)/perWindow)
		}
	}
	return st, nil
}

// findBatch is the active batch that admitted place i.
func findBatch(a admitValue, i int) (batch, bool) {
	for _, b := range a.Batches {
		if b.From <= i && i < b.To {
			return b, true
		}
	}
	return batch{}, false
}

// admitNext lets in the next places of the order while the admitted and
// active shoppers stay within the event's free tickets times the factor:
// a compare-and-set of the room's admit key, so replicas never let in
// more than that between them.
func (s *Service) admitNext(ctx context.Context, r *room, e Event, now time.Time) error {
	q := s.queue
	ttl := q.cfg.AdmissionTTL
	limit := int(math.Floor(float64(max(e.TicketsLeft, 0)) * q.cfg.AdmitFactor))
	for range 10 {
		r.mu.Lock()
		a, rev, total, revealed := r.admit, r.admitRev, len(r.order), r.revealed
		a.Batches = slices.Clone(a.Batches)
		r.mu.Unlock()
		if !revealed || a.N >= total {
			return nil
		}
		a.expire(now, ttl)
		allowed := limit - a.active(now, ttl)
		if allowed <= 0 {
			return nil
		}
		to := min(total, a.N+allowed)
		a.Batches = append(a.Batches, batch{From: a.N, To: to, At: now.UTC()})
		a.N = to
		b, err := json.Marshal(a)
		if err != nil {
			return err
		}
		var newRev uint64
		if rev == 0 {
			newRev, err = q.kv.Create(ctx, e.ID+".admit", b)
		} else {
			newRev, err = q.kv.Update(ctx, e.ID+".admit", b, rev)
		}
		switch {
		case err == nil:
			return r.waitRev(ctx, newRev)
		case errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch):
			// Another replica admitted meanwhile: catch up and look again.
			entry, gerr := q.kv.Get(ctx, e.ID+".admit")
			if gerr != nil {
				return fmt.Errorf("queue admit: %w", gerr)
			}
			if err := r.waitRev(ctx, entry.Revision()); err != nil {
				return err
			}
		default:
			return fmt.Errorf("queue admit: %w", err)
		}
	}
	return nil
}
