package sqldb_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// A SQLite file is read read-only both beside its running writer (which
// keeps its WAL open) and after the writer closed it; nothing can be
// written through it, and a missing file is refused, not created.
func TestOpenReadOnlySQLite(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	w, err := sqldb.Open(ctx, sqldb.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WithTx(ctx, func(tx *sqldb.Tx) error {
		_, err := tx.Exec(`CREATE TABLE t (n BIGINT); INSERT INTO t VALUES (1)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		t.Helper()
		r, err := sqldb.OpenReadOnly(ctx, sqldb.Config{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var n int
		err = r.ReadTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.Exec(`INSERT INTO t VALUES (2)`); err == nil {
				t.Error("a read-only open wrote")
			}
			return tx.QueryRow(`SELECT count(*) FROM t`).Scan(&n)
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 1 {
		t.Errorf("beside the writer: %d rows, want 1", n)
	}
	w.Close()
	if n := count(); n != 1 {
		t.Errorf("after the writer closed: %d rows, want 1", n)
	}
	if _, err := sqldb.OpenReadOnly(ctx, sqldb.Config{Path: filepath.Join(t.TempDir(), "none.db")}); err == nil {
		t.Error("a missing file was opened")
	}
}
