package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"testing/fstest"
)

var cacheMigrations = Migrations{Name: "cache", FS: fstest.MapFS{
	"00001_things.sql": {Data: []byte(`-- +goose Up
CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
-- +goose Down
DROP TABLE things;
`)},
}}

func openCacheTest(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), Config{Path: filepath.Join(t.TempDir(), "cache.db"), Migrations: []Migrations{cacheMigrations}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// cached is what the writing connection keeps compiled.
func cached(t *testing.T, db *DB) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	conn, err := db.write.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(*cachingConn)
		if !ok {
			return fmt.Errorf("the writing connection is a %T, not a caching one", dc)
		}
		for q := range c.stmts {
			got[q] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// A statement run again runs from its compiled form, with each run's own
// arguments, also after a run that failed; schema changes are not kept.
func TestStatementCache(t *testing.T) {
	db := openCacheTest(t)
	ctx := context.Background()
	const ins = `INSERT INTO things (id, name) VALUES ($1, $2)`
	const get = `SELECT name FROM things WHERE id = $1`
	for i := range 5 {
		err := db.WithTx(ctx, func(tx *Tx) error {
			_, err := tx.ExecContext(ctx, ins, i, fmt.Sprint("thing", i))
			return err
		})
		if err != nil {
			t.Fatalf("insert %d: %v", i, err)
		}
	}
	err := db.WithTx(ctx, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, ins, 9, "thing0")
		return err
	})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("a duplicate name = %v, want ErrConflict", err)
	}
	err = db.WithTx(ctx, func(tx *Tx) error {
		for i := range 5 {
			var name string
			if err := tx.QueryRowContext(ctx, get, i).Scan(&name); err != nil {
				return err
			}
			if want := fmt.Sprint("thing", i); name != want {
				return fmt.Errorf("thing %d is %q, want %q", i, name, want)
			}
		}
		return tx.QueryRowContext(ctx, get, 42).Scan(new(string))
	})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("reads in a transaction: %v, want the last ErrNotFound", err)
	}
	got := cached(t, db)
	for _, q := range []string{ins, get} {
		if !got[q] {
			t.Errorf("%q is not kept compiled; kept: %v", q, got)
		}
	}
	for q := range got {
		if !cacheable(q) {
			t.Errorf("kept %q, which is not a data statement", q)
		}
	}
}

// A query run again while its own rows are still open (a loop over rows
// that runs the same query for each) reads both correctly: SQLite has one
// cursor per compiled statement, so the inner one is compiled apart.
func TestStatementCacheNestedRows(t *testing.T) {
	db := openCacheTest(t)
	ctx := context.Background()
	err := db.WithTx(ctx, func(tx *Tx) error {
		for i := range 3 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO things (id, name) VALUES ($1, $2)`, i, fmt.Sprint("t", i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	const q = `SELECT id, name FROM things WHERE id >= $1 ORDER BY id`
	for _, reader := range []struct {
		name string
		run  func(fn func(*sql.Rows, func(int) (*sql.Rows, error)) error) error
	}{
		{"transaction", func(fn func(*sql.Rows, func(int) (*sql.Rows, error)) error) error {
			return db.WithTx(ctx, func(tx *Tx) error {
				query := func(from int) (*sql.Rows, error) { return tx.QueryContext(ctx, q, from) }
				rows, err := query(0)
				if err != nil {
					return err
				}
				defer rows.Close()
				return fn(rows, query)
			})
		}},
		{"read pool", func(fn func(*sql.Rows, func(int) (*sql.Rows, error)) error) error {
			conn, err := db.Read().Conn(ctx)
			if err != nil {
				return err
			}
			defer conn.Close()
			query := func(from int) (*sql.Rows, error) { return conn.QueryContext(ctx, q, from) }
			rows, err := query(0)
			if err != nil {
				return err
			}
			defer rows.Close()
			return fn(rows, query)
		}},
	} {
		t.Run(reader.name, func(t *testing.T) {
			var seen []string
			err := reader.run(func(outer *sql.Rows, query func(int) (*sql.Rows, error)) error {
				for outer.Next() {
					var id int
					var name string
					if err := outer.Scan(&id, &name); err != nil {
						return err
					}
					inner, err := query(id)
					if err != nil {
						return err
					}
					n := 0
					for inner.Next() {
						n++
					}
					inner.Close()
					seen = append(seen, fmt.Sprintf("%s:%d", name, n))
				}
				return outer.Err()
			})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := fmt.Sprint(seen), "[t0:3 t1:2 t2:1]"; got != want {
				t.Errorf("outer rows and inner counts = %s, want %s", got, want)
			}
		})
	}
}

func TestCacheable(t *testing.T) {
	for q, want := range map[string]bool{
		"SELECT 1":                             true,
		"\n\t  select\nid FROM t":              true,
		"INSERT INTO t VALUES (1)":             true,
		"UPDATE t SET a = 1":                   true,
		"DELETE FROM t":                        true,
		"WITH x AS (SELECT 1) SELECT * FROM x": true,
		"(SELECT 1) UNION (SELECT 2)":          true,
		"SAVEPOINT s1":                         true,
		"RELEASE s1":                           true,
		"CREATE TABLE t (a INT)":               false,
		"ALTER TABLE t ADD b INT":              false,
		"PRAGMA journal_mode":                  false,
		"":                                     false,
	} {
		if got := cacheable(q); got != want {
			t.Errorf("cacheable(%q) = %v, want %v", q, got, want)
		}
	}
}
