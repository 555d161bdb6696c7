package sqldb_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ticketing/ticketing/internal/platform/fault"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// wantUnavailable fails unless err is ErrUnavailable: a fault of kind
// Unavailable with a Retry-After, which the HTTP edge answers with 503 and
// the bus runner retries without counting.
func wantUnavailable(t *testing.T, what string, err error) {
	t.Helper()
	var fe *fault.Error
	if !errors.Is(err, sqldb.ErrUnavailable) || !errors.As(err, &fe) || fe.Kind != fault.Unavailable || fe.RetryAfter <= 0 {
		t.Errorf("%s: %v, want ErrUnavailable (a fault.Unavailable with RetryAfter)", what, err)
	}
}

// TestPostgresOutageIsUnavailable: with the server out of reach (refused,
// and the open connections dropped), a session killed under a
// transaction, or too many connections, reads and writes fail with
// ErrUnavailable, never a bare driver error; when the server is back the
// same DB works again.
func TestPostgresOutageIsUnavailable(t *testing.T) {
	t.Parallel()
	cfg := sqldbtest.Config(t, sqldb.Postgres, items)
	var outage *sqldbtest.Outage
	cfg.URL, outage = sqldbtest.Cuttable(t, cfg.URL)
	db := sqldbtest.OpenConfig(t, cfg)
	ctx := context.Background()
	insert(t, db, "a", "apple")
	read := func() error {
		var name string
		return sqldb.Err(db.Read().QueryRowContext(ctx, `SELECT name FROM items WHERE id = $1`, "a").Scan(&name))
	}
	write := func() error {
		return db.WithTx(ctx, func(tx *sqldb.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE items SET n = n + 1 WHERE id = $1`, "a")
			return err
		})
	}

	outage.Cut()
	wantUnavailable(t, "read while cut", read())
	wantUnavailable(t, "write while cut", write())
	outage.Restore()
	if err := read(); err != nil {
		t.Fatalf("read after restore: %v", err)
	}
	if err := write(); err != nil {
		t.Fatalf("write after restore: %v", err)
	}

	// A server that never answers: a new connection gives up after the
	// default connect timeout (5 s) rather than the operating system's
	// minutes. No idle connection is kept, so the read must connect.
	db.Read().SetMaxIdleConns(0)
	outage.Hang()
	start := time.Now()
	wantUnavailable(t, "read while the server is silent", read())
	if took := time.Since(start); took < 4*time.Second || took > 8*time.Second {
		t.Errorf("read against a silent server took %s, want about the 5 s connect timeout", took)
	}
	outage.Restore()
	if err := read(); err != nil {
		t.Fatalf("read after the silence: %v", err)
	}

	// A session the server terminates (an administrator, a failover)
	// under an open transaction: 57P01 or a dropped connection.
	admin, err := sql.Open("pgx", os.Getenv(sqldbtest.PostgresURLEnv))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	err = db.WithTx(ctx, func(tx *sqldb.Tx) error {
		var pid int
		if err := tx.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
			return err
		}
		if _, err := admin.ExecContext(ctx, `SELECT pg_terminate_backend($1, 5000)`, pid); err != nil {
			t.Fatalf("terminate: %v", err)
		}
		_, err := tx.ExecContext(ctx, `UPDATE items SET n = n + 1 WHERE id = $1`, "a")
		return err
	})
	wantUnavailable(t, "statement on a terminated session", err)

	// Too many connections: a role allowed none (53300, as when the
	// server's max_connections is reached).
	role := "test_nolimit_" + strings.ToLower(rand.Text()[:8])
	if _, err := admin.ExecContext(ctx, `CREATE ROLE `+role+` LOGIN CONNECTION LIMIT 0`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(`DROP ROLE IF EXISTS ` + role) })
	u, err := url.Parse(os.Getenv(sqldbtest.PostgresURLEnv))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	limited, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer limited.Close()
	wantUnavailable(t, "too many connections", sqldb.Err(limited.PingContext(ctx)))
}

// TestSQLiteLockedIsUnavailable: a write that cannot get SQLite's lock
// before its busy timeout (another process holds it) is ErrUnavailable.
// The other process is a connection of its own with no busy timeout, so
// the test need not wait out the DB's ten seconds.
func TestSQLiteLockedIsUnavailable(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "test.db")
	db := sqldbtest.OpenConfig(t, sqldb.Config{Path: path, Migrations: []sqldb.Migrations{items}})
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ctx := context.Background()
	err = db.WithTx(ctx, func(tx *sqldb.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO items (id, name) VALUES ('a', 'apple')`); err != nil {
			return err
		}
		_, err := other.ExecContext(ctx, `INSERT INTO items (id, name) VALUES ('b', 'banana')`)
		wantUnavailable(t, "write while another holds the lock", sqldb.Err(err))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
