// Package outbox makes "change the data and announce it" one atomic step.
//
// A service calls Add inside the transaction that changes its data; the event
// becomes a row of the service's own outbox table and commits or rolls back
// with the change. Run, the relay, publishes pending rows to JetStream with the
// event id as Nats-Msg-Id, and deletes them only after the server stored
// them. A crash anywhere loses nothing: an unpublished row is published
// later, and a row published twice is dropped by the server's duplicate
// window (or, past it, by the idempotent listeners).
package outbox

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/ticketing/ticketing/internal/platform/natsbus"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations creates the outbox table; pass it to sqldb.Open beside the
// service's own migrations.
var Migrations = sqldb.EmbeddedMigrations("outbox", migrations)

// Event is anything with a subject that encodes to JSON: the payloads of
// package events.
type Event interface {
	Subject() string
}

// Publisher stores messages on the bus; *natsbus.Bus is the real one.
type Publisher interface {
	PublishBatch(ctx context.Context, msgs []natsbus.Outgoing) []error
}

// Config tunes the relay. Zero values get defaults.
type Config struct {
	// Batch is the most rows claimed and published at once. Default 256.
	Batch int
	// Scan is how often the relay looks for rows without being woken (rows
	// left by a crash, or committed by another replica). Default 1s.
	Scan time.Duration
	// Lease is how long a claim keeps other replicas off a row. Default 30s,
	// well inside the stream's 2 minute duplicate window.
	Lease time.Duration
	// SoleRelay says no other relay works on this database: a SQLite file,
	// which one process owns (`up` holds its data dir's lock; `serve` on
	// SQLite runs one replica of a part, as it warns). Run then starts by
	// releasing every claim, which only a process that died mid-publish
	// can have left, instead of waiting out its lease. Never set it where
	// replicas share a database: it would take a live relay's rows (sent
	// twice, which the stream's duplicate window drops, but wasted).
	SoleRelay bool
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Outbox writes events into a service's outbox table and relays them.
type Outbox struct {
	db   *sqldb.DB
	pub  Publisher
	log  *slog.Logger
	cfg  Config
	wake chan struct{}
	// published counts events the relay has handed to the bus (for tests
	// and metrics).
	published atomic.Int64
}

// New returns an Outbox over db that publishes through pub.
func New(db *sqldb.DB, pub Publisher, log *slog.Logger, cfg Config) *Outbox {
	if cfg.Batch <= 0 {
		cfg.Batch = 256
	}
	if cfg.Scan <= 0 {
		cfg.Scan = time.Second
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Outbox{db: db, pub: pub, log: log, cfg: cfg, wake: make(chan struct{}, 1)}
}

// Add writes ev to the outbox inside tx. The relay is woken when tx commits.
func (o *Outbox) Add(ctx context.Context, tx *sqldb.Tx, ev Event) error {
	payload, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("outbox: encode %s: %w", ev.Subject(), err)
	}
	const q = `INSERT INTO outbox (id, subject, payload, created_at) VALUES ($1, $2, $3, $4)`
	id := uuid.Must(uuid.NewV7()).String()
	if _, err := tx.ExecContext(ctx, q, id, ev.Subject(), string(payload), o.cfg.Now().UnixMilli()); err != nil {
		return fmt.Errorf("outbox: add %s: %w", ev.Subject(), err)
	}
	tx.OnCommit(o.Wake)
	return nil
}

// Wake makes the relay look for rows now.
func (o *Outbox) Wake() {
	select {
	case o.wake <- struct{}{}:
	default: // already woken
	}
}

// Published reports how many events this relay has had stored by the bus.
func (o *Outbox) Published() int64 { return o.published.Load() }

// Pending counts the events committed and not yet published (for metrics;
// it reads the table, so call it at scrape time, not per event).
func (o *Outbox) Pending(ctx context.Context) (int, error) {
	var n int
	if err := o.db.Read().QueryRowContext(ctx, `SELECT count(*) FROM outbox`).Scan(&n); err != nil {
		return 0, fmt.Errorf("outbox: count pending: %w", err)
	}
	return n, nil
}

// Run relays until ctx is done, then makes a last pass so that events
// committed during shutdown go out (bounded by a few seconds).
func (o *Outbox) Run(ctx context.Context) {
	o.releaseOrphans(ctx)
	tick := time.NewTicker(o.cfg.Scan)
	defer tick.Stop()
	for {
		o.drain(ctx)
		select {
		case <-ctx.Done():
			flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			o.drain(flushCtx)
			cancel()
			return
		case <-o.wake:
		case <-tick.C:
		}
	}
}

// releaseOrphans frees, for the sole relay of a database, the rows an
// earlier process claimed and never published (Config.SoleRelay): without
// it the restarted relay waited out the whole lease (30 s) before sending
// them. A row published just before the crash and sent again is dropped by
// the stream's duplicate window (the message id is the row's).
func (o *Outbox) releaseOrphans(ctx context.Context) {
	if !o.cfg.SoleRelay {
		return
	}
	err := o.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE outbox SET claimed_until = 0 WHERE claimed_until > 0`)
		return err
	})
	if err != nil && ctx.Err() == nil {
		o.log.Warn("outbox: release claims left by an earlier process", "err", err)
	}
}

// drain relays batches until the outbox is empty or a batch fails.
func (o *Outbox) drain(ctx context.Context) {
	for ctx.Err() == nil {
		n, err := o.relayBatch(ctx)
		if err != nil {
			if ctx.Err() == nil { // not a shutdown: the last pass follows
				o.log.Warn("outbox relay", "err", err)
			}
			return
		}
		if n < o.cfg.Batch {
			return
		}
	}
}

type row struct {
	id, subject, payload string
}

// relayBatch claims up to Batch rows, publishes them, deletes the ones the
// bus stored and releases the others. It returns how many were claimed.
func (o *Outbox) relayBatch(ctx context.Context) (int, error) {
	rows, err := o.claim(ctx)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	msgs := make([]natsbus.Outgoing, len(rows))
	for i, r := range rows {
		msgs[i] = natsbus.Outgoing{ID: r.id, Subject: r.subject, Data: []byte(r.payload)}
	}
	errs := o.pub.PublishBatch(ctx, msgs)
	var sent, failed []string
	var firstErr error
	for i, err := range errs {
		if err != nil {
			failed = append(failed, rows[i].id)
			if firstErr == nil {
				firstErr = fmt.Errorf("publish %s %s: %w", rows[i].subject, rows[i].id, err)
			}
			continue
		}
		sent = append(sent, rows[i].id)
	}
	ctx = context.WithoutCancel(ctx) // the bus has the events: record that
	if err := o.finish(ctx, `DELETE FROM outbox WHERE id IN (%s)`, sent); err != nil {
		return 0, err
	}
	o.published.Add(int64(len(sent)))
	if err := o.finish(ctx, `UPDATE outbox SET claimed_until = 0 WHERE id IN (%s)`, failed); err != nil {
		return 0, err
	}
	return len(rows), firstErr
}

// claim leases the oldest unclaimed rows. On PostgreSQL SKIP LOCKED keeps
// two replicas from claiming the same row; the lease keeps them off it
// after the claim commits, so no row is published by two relays at once.
func (o *Outbox) claim(ctx context.Context) ([]row, error) {
	now := o.cfg.Now().UnixMilli()
	q := `UPDATE outbox SET claimed_until = $1
		WHERE id IN (SELECT id FROM outbox WHERE claimed_until < $2 ORDER BY id LIMIT $3` +
		o.db.Engine().SkipLocked() + `)
		RETURNING id, subject, payload`
	var out []row
	err := o.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		rs, err := tx.QueryContext(ctx, q, now+o.cfg.Lease.Milliseconds(), now, o.cfg.Batch)
		if err != nil {
			return err
		}
		defer rs.Close()
		for rs.Next() {
			var r row
			if err := rs.Scan(&r.id, &r.subject, &r.payload); err != nil {
				return err
			}
			out = append(out, r)
		}
		return rs.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	// Ids are UUIDv7: sorting publishes in commit-ish order.
	slices.SortFunc(out, func(a, b row) int { return strings.Compare(a.id, b.id) })
	return out, nil
}

func (o *Outbox) finish(ctx context.Context, q string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, len(ids))
	marks := make([]string, len(ids))
	for i, id := range ids {
		args[i] = id
		marks[i] = fmt.Sprintf("$%d", i+1)
	}
	return o.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		_, err := tx.ExecContext(ctx, fmt.Sprintf(q, strings.Join(marks, ",")), args...)
		return err
	})
}
