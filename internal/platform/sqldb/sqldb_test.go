package sqldb_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

// items is a small migration set shared by the tests.
var items = sqldb.Migrations{Name: "items", FS: fstest.MapFS{
	"00001_items.sql": {Data: []byte(`-- +goose Up
CREATE TABLE items (
    id    TEXT PRIMARY KEY,
    name  TEXT NOT NULL UNIQUE,
    n     BIGINT NOT NULL DEFAULT 0
);
-- +goose Down
DROP TABLE items;
`)},
	"00002_counter.sql": {Data: []byte(`-- +goose Up
CREATE TABLE counter (id INTEGER PRIMARY KEY, n BIGINT NOT NULL);
INSERT INTO counter (id, n) VALUES (1, 0);
-- +goose Down
DROP TABLE counter;
`)},
}}

func insert(t *testing.T, db *sqldb.DB, id, name string) {
	t.Helper()
	err := db.WithTx(context.Background(), func(tx *sqldb.Tx) error {
		_, err := tx.Exec(`INSERT INTO items (id, name) VALUES ($1, $2)`, id, name)
		return err
	})
	if err != nil {
		t.Fatalf("insert %s: %v", id, err)
	}
}

func count(t *testing.T, db *sqldb.DB) int {
	t.Helper()
	var n int
	if err := db.Read().QueryRow(`SELECT COUNT(*) FROM items`).Scan(&n); err != nil {
		t.Fatalf("count: %v", err)
	}
	return n
}

func TestPlaceholdersBindByNumber(t *testing.T) {
	t.Parallel()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		t.Parallel()
		insert(t, db, "a", "apple")
		insert(t, db, "b", "banana")

		var first, second string
		if err := db.Read().QueryRow(`SELECT CAST($2 AS TEXT), CAST($1 AS TEXT)`, "one", "two").Scan(&first, &second); err != nil {
			t.Fatal(err)
		}
		if first != "two" || second != "one" {
			t.Errorf("SELECT $2, $1 = %q, %q; want two, one", first, second)
		}

		// $2 used before $1, and $1 used twice.
		var id string
		q := `SELECT id FROM items WHERE name = $2 AND id <> $1 AND id > $1`
		if err := db.Read().QueryRow(q, "a", "banana").Scan(&id); err != nil {
			t.Fatal(err)
		}
		if id != "b" {
			t.Errorf("id = %q, want b", id)
		}
		err := db.Read().QueryRow(q, "b", "banana").Scan(&id)
		if !errors.Is(sqldb.Err(err), sqldb.ErrNotFound) {
			t.Errorf("swapped args: err = %v, want not found", err)
		}
	}, items)
}

// TestStatementRunAgain: a statement run again in later transactions (from
// its compiled form, on either engine) sees each transaction's own writes,
// also after a transaction that ran it was rolled back.
func TestStatementRunAgain(t *testing.T) {
	t.Parallel()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		t.Parallel()
		ctx := context.Background()
		errRollback := errors.New("roll back")
		// banana's transaction is rolled back: cherry's sees apple and itself.
		for _, tc := range []struct {
			name     string
			want     int
			rollback bool
		}{{"apple", 1, false}, {"banana", 2, true}, {"cherry", 2, false}} {
			err := db.WithTx(ctx, func(tx *sqldb.Tx) error {
				if _, err := tx.Exec(`INSERT INTO items (id, name) VALUES ($1, $2)`, tc.name, tc.name); err != nil {
					return err
				}
				var n int
				if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM items WHERE name <> $1`, "none").Scan(&n); err != nil {
					return err
				}
				if n != tc.want {
					t.Errorf("%s's transaction counts %d items, want %d", tc.name, n, tc.want)
				}
				if tc.rollback {
					return errRollback
				}
				return nil
			})
			if err != nil && !errors.Is(err, errRollback) {
				t.Fatalf("%s: %v", tc.name, err)
			}
		}
	}, items)
}

func TestErrorTranslation(t *testing.T) {
	t.Parallel()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		t.Parallel()
		ctx := context.Background()
		insert(t, db, "a", "apple")

		var name string
		err := db.Read().QueryRowContext(ctx, `SELECT name FROM items WHERE id = $1`, "nope").Scan(&name)
		if err := sqldb.Err(err); !errors.Is(err, sqldb.ErrNotFound) || !errors.Is(err, sql.ErrNoRows) {
			t.Errorf("no rows: %v, want ErrNotFound wrapping sql.ErrNoRows", err)
		}

		for _, tc := range []struct {
			name, q string
		}{
			{"primary key", `INSERT INTO items (id, name) VALUES ('a', 'other')`},
			{"unique column", `INSERT INTO items (id, name) VALUES ('z', 'apple')`},
		} {
			err := db.WithTx(ctx, func(tx *sqldb.Tx) error {
				_, err := tx.ExecContext(ctx, tc.q)
				return err
			})
			if !errors.Is(sqldb.Err(err), sqldb.ErrConflict) {
				t.Errorf("%s: Err(%v) is not ErrConflict", tc.name, err)
			}
			// Services check the error WithTx returns.
			if !errors.Is(err, sqldb.ErrConflict) {
				t.Errorf("%s: WithTx returned %v, not ErrConflict", tc.name, err)
			}
			// Translating a translated error, wrapped on its way up, names
			// the kind once.
			wrapped := fmt.Errorf("insert item: %w", sqldb.Err(err))
			if got := sqldb.Err(wrapped); got != wrapped || strings.Count(got.Error(), sqldb.ErrConflict.Error()) != 1 {
				t.Errorf("%s: Err(Err(e)) = %q, want it unchanged with the kind once", tc.name, got)
			}
		}
		other := errors.New("other")
		if got := sqldb.Err(other); got != other {
			t.Errorf("Err(other) = %v", got)
		}
		if sqldb.Err(nil) != nil {
			t.Error("Err(nil) != nil")
		}
		if n := count(t, db); n != 1 {
			t.Errorf("rows = %d, want 1", n)
		}
	}, items)
}

func TestWithTx(t *testing.T) {
	t.Parallel()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		t.Parallel()
		ctx := context.Background()
		boom := errors.New("boom")
		tests := []struct {
			name      string
			fn        func(tx *sqldb.Tx) error
			wantErr   error
			wantPanic bool
			wantRow   bool
		}{
			{name: "commit", fn: func(*sqldb.Tx) error { return nil }, wantRow: true},
			{name: "error", fn: func(*sqldb.Tx) error { return boom }, wantErr: boom},
			{name: "panic", fn: func(*sqldb.Tx) error { panic("oops") }, wantPanic: true},
		}
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				id := fmt.Sprint("id", i)
				hooked := 0
				var panicked any
				var err error
				func() {
					defer func() { panicked = recover() }()
					err = db.WithTx(ctx, func(tx *sqldb.Tx) error {
						if tx.Engine() != db.Engine() {
							t.Errorf("tx engine %v, db %v", tx.Engine(), db.Engine())
						}
						if _, err := tx.ExecContext(ctx, `INSERT INTO items (id, name) VALUES ($1, $2)`, id, id); err != nil {
							return err
						}
						tx.OnCommit(func() {
							// The hook sees the committed row from another connection.
							var n int
							if err := db.Read().QueryRow(`SELECT COUNT(*) FROM items WHERE id = $1`, id).Scan(&n); err != nil || n != 1 {
								t.Errorf("in hook: n=%d err=%v, want the committed row", n, err)
							}
							hooked++
						})
						return tc.fn(tx)
					})
				}()
				if (panicked != nil) != tc.wantPanic {
					t.Errorf("panic = %v, want panic %v", panicked, tc.wantPanic)
				}
				if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
					t.Errorf("err = %v, want %v", err, tc.wantErr)
				}
				var n int
				if err := db.Read().QueryRow(`SELECT COUNT(*) FROM items WHERE id = $1`, id).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if got := n == 1; got != tc.wantRow {
					t.Errorf("row present = %v, want %v", got, tc.wantRow)
				}
				if want := map[bool]int{true: 1, false: 0}[tc.wantRow]; hooked != want {
					t.Errorf("OnCommit ran %d times, want %d", hooked, want)
				}
			})
		}
		// The connection is still usable after the panic and the rollbacks.
		insert(t, db, "after", "after")
	}, items)
}

func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		const writers = 50
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for range writers {
			wg.Go(func() {
				errs <- db.WithTx(ctx, func(tx *sqldb.Tx) error {
					// Read then write: the pattern that deadlocks deferred
					// SQLite transactions.
					lock := ""
					if tx.Engine() == sqldb.Postgres {
						lock = " FOR UPDATE"
					}
					var n int64
					if err := tx.QueryRowContext(ctx, `SELECT n FROM counter WHERE id = 1`+lock).Scan(&n); err != nil {
						return err
					}
					_, err := tx.ExecContext(ctx, `UPDATE counter SET n = $1 WHERE id = 1`, n+1)
					return err
				})
			})
			// Readers beside the writers.
			wg.Go(func() {
				var n int64
				if err := db.Read().QueryRowContext(ctx, `SELECT n FROM counter WHERE id = 1`).Scan(&n); err != nil {
					errs <- fmt.Errorf("read: %w", err)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("writer: %v", err)
			}
		}
		var n int64
		if err := db.Read().QueryRow(`SELECT n FROM counter WHERE id = 1`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != writers {
			t.Errorf("counter = %d, want %d", n, writers)
		}
	}, items)
}

func TestConcurrentIncrements(t *testing.T) {
	t.Parallel()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		const writers = 50
		var wg sync.WaitGroup
		errs := make([]error, writers)
		for i := range writers {
			wg.Go(func() {
				errs[i] = db.WithTx(ctx, func(tx *sqldb.Tx) error {
					_, err := tx.ExecContext(ctx, `UPDATE counter SET n = n + 1 WHERE id = 1`)
					return err
				})
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Errorf("writer: %v", err)
			}
		}
		var n int64
		if err := db.Read().QueryRow(`SELECT n FROM counter WHERE id = 1`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != writers {
			t.Errorf("counter = %d, want %d", n, writers)
		}
	}, items)
}

func TestOpenTwiceMigratesOnce(t *testing.T) {
	t.Parallel()
	for _, e := range sqldbtest.Engines(t) {
		t.Run(e.String(), func(t *testing.T) {
			t.Parallel()
			cfg := sqldbtest.Config(t, e, items)
			db1 := sqldbtest.OpenConfig(t, cfg)
			insert(t, db1, "a", "apple")
			db2 := sqldbtest.OpenConfig(t, cfg) // a no-op migration, data kept
			if n := count(t, db2); n != 1 {
				t.Errorf("after second open: %d rows, want 1", n)
			}
			var versions int
			if err := db2.Read().QueryRow(`SELECT COUNT(*) FROM goose_items WHERE version_id > 0`).Scan(&versions); err != nil {
				t.Fatal(err)
			}
			if versions != 2 {
				t.Errorf("goose_items holds %d applied versions, want 2", versions)
			}
		})
	}
}

func TestConcurrentOpen(t *testing.T) {
	t.Parallel()
	for _, e := range sqldbtest.Engines(t) {
		t.Run(e.String(), func(t *testing.T) {
			t.Parallel()
			cfg := sqldbtest.Config(t, e, items)
			const replicas = 3
			var wg sync.WaitGroup
			dbs := make([]*sqldb.DB, replicas)
			errs := make([]error, replicas)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			for i := range replicas {
				wg.Go(func() { dbs[i], errs[i] = sqldb.Open(ctx, cfg) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("open %d: %v", i, err)
					continue
				}
				t.Cleanup(func() { dbs[i].Close() })
			}
			if t.Failed() {
				return
			}
			insert(t, dbs[0], "a", "apple")
			if n := count(t, dbs[replicas-1]); n != 1 {
				t.Errorf("replica sees %d rows, want 1", n)
			}
		})
	}
}

func TestReadIsReadOnlyOnSQLite(t *testing.T) {
	t.Parallel()
	db := sqldbtest.Open(t, sqldb.SQLite, items)
	_, err := db.Read().Exec(`INSERT INTO items (id, name) VALUES ('x', 'x')`)
	if err == nil {
		t.Fatal("insert through Read() succeeded")
	}
	if n := count(t, db); n != 0 {
		t.Errorf("rows = %d, want 0", n)
	}
	// Every connection of the read pool is read-only, not only the first.
	conns := make([]*sql.Conn, 4)
	for i := range conns {
		c, err := db.Read().Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	for i, c := range conns {
		if _, err := c.ExecContext(context.Background(), `INSERT INTO items (id, name) VALUES ($1, $1)`, fmt.Sprint(i)); err == nil {
			t.Errorf("read connection %d wrote", i)
		}
		c.Close()
	}
	if err := db.Ping(context.Background()); err != nil {
		t.Errorf("ping: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name string
		cfg  sqldb.Config
	}{
		{"nothing", sqldb.Config{}},
		{"bad schema", sqldb.Config{URL: "postgres://127.0.0.1:1/x", Schema: "Robert'); DROP"}},
		{"bad migration", sqldb.Config{Path: t.TempDir() + "/x.db", Migrations: []sqldb.Migrations{{Name: "bad", FS: fstest.MapFS{
			"00001_bad.sql": {Data: []byte("-- +goose Up\nCREATE TABLEX nope;\n")},
		}}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db, err := sqldb.Open(ctx, tc.cfg)
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
		})
	}
}

// TestOpenAsSchemaOwner opens PostgreSQL as a deployment's part does
// (deploy/k8s/postgres/roles.sql): a login role that owns its schema and
// may create no other. Open, migrations included, must work without the
// right to create schemas; a schema the role has not been given fails with
// the server's refusal.
func TestOpenAsSchemaOwner(t *testing.T) {
	if !slices.Contains(sqldbtest.Engines(t), sqldb.Postgres) {
		t.Skipf("%s not set", sqldbtest.PostgresURLEnv)
	}
	t.Parallel()
	base := os.Getenv(sqldbtest.PostgresURLEnv)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	role := "test_role_" + strings.ToLower(rand.Text()[:10])
	password := rand.Text()
	for _, q := range []string{
		fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", role, password),
		fmt.Sprintf("CREATE SCHEMA %s AUTHORIZATION %s", role, role),
	} {
		if _, err := admin.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer admin.Close()
		admin.Exec("DROP SCHEMA IF EXISTS " + role + " CASCADE")
		admin.Exec("DROP ROLE IF EXISTS " + role)
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(role, password)

	db := sqldbtest.OpenConfig(t, sqldb.Config{URL: u.String(), Schema: role, Migrations: []sqldb.Migrations{items}})
	insert(t, db, "a", "apple")
	if n := count(t, db); n != 1 {
		t.Errorf("%d rows, want 1", n)
	}
	_, err = sqldb.Open(context.Background(), sqldb.Config{URL: u.String(), Schema: role + "_other", Migrations: []sqldb.Migrations{items}})
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("open a schema the role does not own: %v, want permission denied", err)
	}
}

// TestEngineMigrations: a migration named for one engine runs on that
// engine only, and may share its version with the other engine's.
func TestEngineMigrations(t *testing.T) {
	migs := sqldb.Migrations{Name: "engines", FS: fstest.MapFS{
		"00001_both.sql": {Data: []byte("-- +goose Up\nCREATE TABLE both_engines (n BIGINT);\n")},
		"00002_only.sqlite.sql": {Data: []byte("-- +goose Up\nCREATE TABLE made_on (engine TEXT);\n" +
			"INSERT INTO made_on VALUES ('sqlite');\n")},
		"00002_only.postgres.sql": {Data: []byte("-- +goose Up\nCREATE TABLE made_on (engine TEXT);\n" +
			"INSERT INTO made_on VALUES ('postgres');\n")},
		"00003_after.sql": {Data: []byte("-- +goose Up\nINSERT INTO made_on VALUES ('after');\n")},
	}}
	for _, e := range sqldbtest.Engines(t) {
		t.Run(e.String(), func(t *testing.T) {
			db := sqldbtest.Open(t, e, migs)
			rows, err := db.Read().QueryContext(context.Background(), `SELECT engine FROM made_on ORDER BY engine`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var got []string
			for rows.Next() {
				var s string
				if err := rows.Scan(&s); err != nil {
					t.Fatal(err)
				}
				got = append(got, s)
			}
			if want := "after," + e.String(); strings.Join(got, ",") != want {
				t.Fatalf("made_on = %v, want %s", got, want)
			}
		})
	}
}
