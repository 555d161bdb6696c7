package sqldb_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// TestInvalidTextIsAFault: a NUL byte or invalid UTF-8 from a client, which
// PostgreSQL refuses in TEXT, comes back as ErrInvalidText, a fault of kind
// Invalid (a 400 at the HTTP edge) rather than a driver error (a 500).
// SQLite stores such text, so there the query simply runs.
func TestInvalidTextIsAFault(t *testing.T) {
	t.Parallel()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		t.Parallel()
		ctx := context.Background()
		for _, tc := range []struct{ name, text string }{
			{"NUL", "a\x00b"},
			{"invalid UTF-8", "\xff\xfe"},
		} {
			var name string
			err := sqldb.Err(db.Read().QueryRowContext(ctx, `SELECT name FROM items WHERE id = $1`, tc.text).Scan(&name))
			txErr := db.WithTx(ctx, func(tx *sqldb.Tx) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO items (id, name) VALUES ($1, $1)`, tc.text)
				return err
			})
			if db.Engine() == sqldb.SQLite {
				if !errors.Is(err, sqldb.ErrNotFound) || txErr != nil {
					t.Errorf("%s on SQLite: lookup %v, insert %v; want not found and stored", tc.name, err, txErr)
				}
				continue
			}
			for what, err := range map[string]error{"lookup": err, "insert": txErr} {
				var fe *fault.Error
				if !errors.Is(err, sqldb.ErrInvalidText) || !errors.As(err, &fe) || fe.Kind != fault.Invalid {
					t.Errorf("%s %s: %v, want ErrInvalidText, a fault.Invalid", tc.name, what, err)
				}
			}
		}
	}, items)
}
