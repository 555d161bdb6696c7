// Package sqldbtest gives tests a fresh database on every engine: SQLite
// always, PostgreSQL when TICKETING_TEST_POSTGRES_URL is set. In CI (CI=true)
// a missing PostgreSQL URL fails the test instead of skipping it.
package sqldbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx" for the schema cleanup
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// PostgresURLEnv names the variable that points the tests at PostgreSQL.
const PostgresURLEnv = "TICKETING_TEST_POSTGRES_URL"

// Engines returns the engines to test on.
func Engines(tb testing.TB) []sqldb.Engine {
	tb.Helper()
	if os.Getenv(PostgresURLEnv) != "" {
		return []sqldb.Engine{sqldb.SQLite, sqldb.Postgres}
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("%s is not set: in CI the PostgreSQL tests must run", PostgresURLEnv)
	}
	return []sqldb.Engine{sqldb.SQLite}
}

// Config returns a config for a new, empty database on engine: a SQLite file
// in a temp dir, or a PostgreSQL schema of a random name dropped when the
// test ends. Open it as often as the test needs replicas.
func Config(tb testing.TB, engine sqldb.Engine, migrations ...sqldb.Migrations) sqldb.Config {
	tb.Helper()
	if engine == sqldb.SQLite {
		return sqldb.Config{Path: filepath.Join(tb.TempDir(), "test.db"), Migrations: migrations}
	}
	url := os.Getenv(PostgresURLEnv)
	if url == "" {
		tb.Skipf("%s not set", PostgresURLEnv)
	}
	schema := "test_" + strings.ToLower(rand.Text()[:12])
	tb.Cleanup(func() {
		db, err := sql.Open("pgx", url)
		if err != nil {
			tb.Errorf("drop schema: %v", err)
			return
		}
		defer db.Close()
		if _, err := db.Exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return sqldb.Config{URL: url, Schema: schema, Migrations: migrations}
}

// Open opens a new database on engine with the migrations applied, closed
// when the test ends.
func Open(tb testing.TB, engine sqldb.Engine, migrations ...sqldb.Migrations) *sqldb.DB {
	tb.Helper()
	return OpenConfig(tb, Config(tb, engine, migrations...))
}

// OpenConfig opens cfg (again), closed when the test ends.
func OpenConfig(tb testing.TB, cfg sqldb.Config) *sqldb.DB {
	tb.Helper()
	db, err := sqldb.Open(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("open %s: %v", cfg.Schema, err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// Each runs fn as a subtest per engine, each with its own fresh database.
func Each(t *testing.T, fn func(t *testing.T, db *sqldb.DB), migrations ...sqldb.Migrations) {
	t.Helper()
	for _, e := range Engines(t) {
		t.Run(e.String(), func(t *testing.T) {
			fn(t, Open(t, e, migrations...))
		})
	}
}
