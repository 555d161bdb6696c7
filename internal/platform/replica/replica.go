// Package replica applies versioned events to a service's copy of another
// service's records, by the one rule every such replica follows (DESIGN.md
// section 4): version N is applied only on top of N−1; a version already
// applied is acknowledged and changes nothing; one that comes early (or
// before its record) waits.
//
// Its users, each keeping one table: orders (tickets, from ticket events,
// and sale_events, each event's times), payments (orders, from order
// events), shows (event_tickets, the issued tickets it counts as left) and
// tickets (door_events, the events whose staff may check tickets in). docs/ARCHITECTURE.md "Versioned replicas"
// keeps the same list; a new replica joins both.
//
// A replica table has an id TEXT primary key and a version BIGINT column,
// the version set from events only, never incremented here.
package replica

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// Outcome says what Apply or Insert did with a version.
type Outcome int

const (
	// Applied: the version is now the replica's.
	Applied Outcome = iota + 1
	// Duplicate: the replica already holds this version or a later one;
	// nothing changed (a redelivery).
	Duplicate
	// Behind: the version before it (or the record itself) has not been
	// applied yet; nothing changed, the event must come back later.
	Behind
)

func (o Outcome) String() string {
	switch o {
	case Applied:
		return "applied"
	case Duplicate:
		return "duplicate"
	case Behind:
		return "behind"
	}
	return "unknown"
}

// ErrBehind is wrapped by the error Apply returns with Behind. The bus
// (natsbus) recognises it as an early message by itself, through its
// EarlyMessage method, so a listener returns it as it is: the message is
// redelivered with a delay until the version before it has landed.
var ErrBehind error = behindError{}

type behindError struct{}

func (behindError) Error() string { return "replica is behind the event" }

// EarlyMessage marks the error for natsbus, which cannot be imported here
// (and need not import this package): an early message waits, bounded by
// its own delivery limit, instead of failing.
func (behindError) EarlyMessage() bool { return true }

// Set is the columns a version writes besides id and version. Keys are
// column names chosen by the caller's code, never by input.
type Set map[string]any

var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// columns returns set's names in a stable order (so the statement text is
// the same every time) with their values, after checking every name.
func columns(table string, set Set) ([]string, []any, error) {
	if !identifier.MatchString(table) {
		return nil, nil, fmt.Errorf("replica: bad table name %q", table)
	}
	names := make([]string, 0, len(set))
	for name := range set {
		if !identifier.MatchString(name) || name == "id" || name == "version" {
			return nil, nil, fmt.Errorf("replica: bad column name %q", name)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	vals := make([]any, len(names))
	for i, n := range names {
		vals[i] = set[n]
	}
	return names, vals, nil
}

// Apply writes version of the record id in table with the columns of set,
// provided the replica holds version−1. It is one UPDATE when the version
// applies (the common case, so the rule costs no extra round trip); only
// when it does not is the stored version read, to tell a duplicate from an
// early one. Behind comes with an error wrapping ErrBehind (and naming the
// record and both versions); Applied and Duplicate with nil.
func Apply(ctx context.Context, tx *sqldb.Tx, table, id string, version int64, set Set) (Outcome, error) {
	names, vals, err := columns(table, set)
	if err != nil {
		return 0, err
	}
	var q strings.Builder
	q.WriteString("UPDATE " + table + " SET ")
	for i, n := range names {
		q.WriteString(n + " = $" + strconv.Itoa(i+1) + ", ")
	}
	k := len(names)
	q.WriteString("version = $" + strconv.Itoa(k+1) + " WHERE id = $" + strconv.Itoa(k+2) +
		" AND version = $" + strconv.Itoa(k+3))
	args := append(vals, version, id, version-1)
	res, err := tx.ExecContext(ctx, q.String(), args...)
	if err != nil {
		return 0, fmt.Errorf("replica: apply %s %s v%d: %w", table, id, version, sqldb.Err(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("replica: apply %s %s v%d: %w", table, id, version, err)
	}
	if n == 1 {
		return Applied, nil
	}
	var stored int64
	err = tx.QueryRowContext(ctx, "SELECT version FROM "+table+" WHERE id = $1", id).Scan(&stored)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Behind, fmt.Errorf("%s %s version %d: not in the replica yet: %w", table, id, version, ErrBehind)
	case err != nil:
		return 0, fmt.Errorf("replica: version of %s %s: %w", table, id, sqldb.Err(err))
	case stored >= version:
		return Duplicate, nil
	}
	return Behind, fmt.Errorf("%s %s version %d: replica has %d: %w", table, id, version, stored, ErrBehind)
}

// Insert adds the record id to table at version with the columns of set
// (the event that creates a record, such as ticket.created). A record
// already there, whatever its version, is left as it is: Duplicate.
func Insert(ctx context.Context, tx *sqldb.Tx, table, id string, version int64, set Set) (Outcome, error) {
	names, vals, err := columns(table, set)
	if err != nil {
		return 0, err
	}
	ph := make([]string, 0, len(names)+2)
	for i := range len(names) + 2 {
		ph = append(ph, "$"+strconv.Itoa(i+1))
	}
	q := "INSERT INTO " + table + " (" + strings.Join(append(names, "id", "version"), ", ") +
		") VALUES (" + strings.Join(ph, ", ") + ") ON CONFLICT (id) DO NOTHING"
	res, err := tx.ExecContext(ctx, q, append(vals, id, version)...)
	if err != nil {
		return 0, fmt.Errorf("replica: insert %s %s: %w", table, id, sqldb.Err(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("replica: insert %s %s: %w", table, id, err)
	}
	if n == 1 {
		return Applied, nil
	}
	return Duplicate, nil
}
