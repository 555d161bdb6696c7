package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// OpenReadOnly opens an existing database to read it, beside the processes
// that write it, without migrating or creating anything: the SQLite file
// at cfg.Path opened read-only (it must exist), or PostgreSQL with
// cfg.Schema as the search path (the schema must exist). Reads go through
// ReadTx. For tools such as `ticketing check`.
func OpenReadOnly(ctx context.Context, cfg Config) (*DB, error) {
	if cfg.URL == "" {
		if _, err := os.Stat(cfg.Path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("sqldb: no database at %s", cfg.Path)
		}
		// mode=ro: SQLite never writes the file; the WAL beside it is
		// read as the writer left it, so a running system is seen as of
		// its last commit.
		dsn := "file:" + (&url.URL{Path: cfg.Path}).EscapedPath() +
			"?mode=ro&_pragma=busy_timeout(10000)&_pragma=query_only(1)"
		db, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("sqldb: open sqlite %s read-only: %w", cfg.Path, err)
		}
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("sqldb: open sqlite %s read-only: %w", cfg.Path, err)
		}
		return &DB{engine: SQLite, write: db, read: db}, nil
	}
	if !schemaName.MatchString(cfg.Schema) {
		return nil, fmt.Errorf("sqldb: invalid schema name %q", cfg.Schema)
	}
	connCfg, err := pgx.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("sqldb: parse DATABASE_URL: %w", err)
	}
	if connCfg.ConnectTimeout == 0 {
		connCfg.ConnectTimeout = defaultConnectTimeout
	}
	connCfg.RuntimeParams["search_path"] = cfg.Schema
	connCfg.RuntimeParams["default_transaction_read_only"] = "on"
	pool := stdlib.OpenDB(*connCfg)
	pool.SetMaxOpenConns(2)
	var exists bool
	err = pool.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", cfg.Schema).Scan(&exists)
	if err == nil && !exists {
		err = fmt.Errorf("no schema %s", cfg.Schema)
	}
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("sqldb: open postgres read-only: %w", err)
	}
	return &DB{engine: Postgres, write: pool, read: pool}, nil
}

// ReadTx runs fn in one read-only transaction, so every query in it sees
// the same moment of the database: REPEATABLE READ on PostgreSQL; on
// SQLite a transaction's reads all come from the snapshot its first read
// takes.
func (db *DB) ReadTx(ctx context.Context, fn func(*sql.Tx) error) error {
	var opts *sql.TxOptions
	if db.engine == Postgres {
		opts = &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}
	}
	tx, err := db.read.BeginTx(ctx, opts)
	if err != nil {
		return Err(err)
	}
	defer tx.Rollback()
	return fn(tx)
}
