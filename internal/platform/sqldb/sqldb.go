// Package sqldb owns access to a service's SQL database: a SQLite file for
// `ticketing up` and the default tests, a PostgreSQL schema for `serve`.
//
// It opens the database with the settings each engine needs, applies the
// service's embedded migrations, runs transactions (with after-commit hooks),
// and translates driver errors into ErrNotFound, ErrConflict,
// ErrInvalidText and ErrUnavailable so services never see a driver error. The same SQL, written
// with $N placeholders, runs on both engines; the few real differences go
// through Engine.
package sqldb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ticketing/ticketing/internal/platform/fault"
)

// Engine is the kind of database behind a DB.
type Engine int

const (
	SQLite Engine = iota + 1
	Postgres
)

func (e Engine) String() string {
	if e == Postgres {
		return "postgres"
	}
	return "sqlite"
}

// SkipLocked is the row-locking clause that lets several replicas claim
// disjoint rows (PostgreSQL). SQLite has one writer at a time and needs none.
func (e Engine) SkipLocked() string {
	if e == Postgres {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

var (
	// ErrNotFound means a query matched no row.
	ErrNotFound = errors.New("sqldb: not found")
	// ErrConflict means a write broke a unique constraint.
	ErrConflict = errors.New("sqldb: conflict")
	// ErrInvalidText means the database refused a value the client sent: a
	// NUL byte or invalid UTF-8, which PostgreSQL rejects in TEXT (SQLite
	// stores them), or a string too big to store. It is a 400-class fault,
	// so a lookup or write that no service thought to screen answers the
	// caller with a clear 400, never a 500.
	ErrInvalidText error = &fault.Error{Kind: fault.Invalid,
		Message: "Text must be valid UTF-8 without NUL characters, and of a sensible length"}
	// ErrUnavailable means the database could not be reached or could not
	// take the work: connection refused or dropped, a timeout, too many
	// connections, a server shutting down or starting, SQLite's lock still
	// held after the busy timeout, a disk error. Nothing about the request
	// is wrong and trying again later can succeed, so it is a fault of
	// kind Unavailable: a 503 with Retry-After at the HTTP edge (never a
	// 500), and a delivery that does not count against a message's limit
	// in the bus runner (natsbus: an outage never uses up deliveries).
	ErrUnavailable error = &fault.Error{Kind: fault.Unavailable, RetryAfter: 5 * time.Second,
		Message: "The service is briefly unavailable; please try again shortly"}
)

// Migrations is one embedded set of goose SQL migrations. Each set keeps its
// own version table (goose_<Name>), so a platform package (the outbox) and
// the service can both ship migrations for the same database.
type Migrations struct {
	Name string
	FS   fs.FS
}

// EmbeddedMigrations is the set name kept in the migrations/ directory of
// files, a package's `//go:embed migrations/*.sql`.
func EmbeddedMigrations(name string, files fs.FS) Migrations {
	sub, err := fs.Sub(files, "migrations")
	if err != nil {
		panic(err) // only for an invalid path, and "migrations" is valid
	}
	return Migrations{Name: name, FS: sub}
}

// Config says which database to open.
type Config struct {
	// URL is a PostgreSQL URL; empty means SQLite at Path.
	URL string
	// Path is the SQLite file, used when URL is empty.
	Path string
	// Schema is the PostgreSQL schema the service owns (created if missing).
	Schema string
	// Migrations are applied in order at open.
	Migrations []Migrations
	// SyncFull makes every SQLite commit durable against power loss
	// (synchronous=FULL). PostgreSQL follows its own server settings.
	SyncFull bool
	// MaxConns caps PostgreSQL connections (default 16).
	MaxConns int
}

// idleConnLife is how long a pooled connection may sit unused before it is
// closed: a burst's connections (each a PostgreSQL backend process of a few
// MiB, and buffers here) do not stay open for the rest of an idle day,
// while a steady load keeps reusing its own and never reconnects.
const idleConnLife = time.Minute

// DB is a service's database. On SQLite it keeps one writing connection (so
// writers queue in Go instead of spinning on SQLITE_BUSY) and a pool of
// read-only connections that WAL lets run beside the writer. On PostgreSQL
// both are the same pool.
type DB struct {
	engine Engine
	write  *sql.DB
	read   *sql.DB
	// group runs SQLite's write transactions (commit.go), and its
	// checkpointer copies their log into the file (checkpoint.go); nil on
	// PostgreSQL, whose writers run side by side.
	group *committer
}

// Open opens the database and applies the migrations.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	var (
		db  *DB
		err error
	)
	if cfg.URL != "" {
		db, err = openPostgres(ctx, cfg)
	} else {
		db, err = openSQLite(cfg.Path, cfg.SyncFull)
	}
	if err != nil {
		return nil, err
	}
	if err := db.migrate(ctx, cfg.Migrations); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// sqlitePragmas: WAL lets readers run beside the writer; the busy timeout
// covers other processes (a sqlite3 shell) holding the lock.
const sqlitePragmas = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(ON)"

// synchronous is the fsync setting: NORMAL in WAL mode survives a process
// crash without losing a commit, but a power loss may lose the last commits;
// FULL syncs the WAL at every commit and survives that too, at a price
// measured in docs/OPERATIONS.md.
func synchronous(full bool) string {
	if full {
		return "&_pragma=synchronous(FULL)"
	}
	return "&_pragma=synchronous(NORMAL)"
}

func openSQLite(path string, syncFull bool) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqldb: no PostgreSQL URL and no SQLite path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqldb: create data dir: %w", err)
	}
	if err := ownerOnly(path); err != nil {
		return nil, err
	}
	base := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + sqlitePragmas + synchronous(syncFull)
	// Write transactions begin IMMEDIATE: they take the write lock at BEGIN,
	// so two writers never deadlock upgrading a read lock. The writer keeps
	// its temporary files in memory: a group commit's savepoints (commit.go)
	// journal each page they change first, and in a file that cost a write
	// system call per page. Its checkpoints are the checkpointer's
	// (checkpoint.go). Opening it first creates the file and switches it to
	// WAL before readers open it read-only.
	write, err := openOneConn(path, base+"&_txlock=immediate&_pragma=temp_store(MEMORY)&_pragma=wal_autocheckpoint(0)")
	if err != nil {
		return nil, err
	}
	// The checkpointer's connection opens now and stays: opening one beside
	// a busy writer waits for the lock the WAL pragma takes.
	ckpt, err := openOneConn(path, base)
	if err != nil {
		write.Close()
		return nil, err
	}
	rc, err := newSQLiteConnector(base + "&_pragma=query_only(1)")
	if err != nil {
		write.Close()
		ckpt.Close()
		return nil, fmt.Errorf("sqldb: open sqlite: %w", err)
	}
	read := sql.OpenDB(rc)
	read.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	read.SetMaxIdleConns(max(4, runtime.GOMAXPROCS(0)))
	read.SetConnMaxIdleTime(idleConnLife) // each holds SQLite's page cache
	group := newCommitter(write)
	group.checkpoints = newCheckpointer(ckpt, &group.commits)
	return &DB{engine: SQLite, write: write, read: read, group: group}, nil
}

// openOneConn opens a pool of one connection to the SQLite file at path,
// kept open for good, and opens that connection now.
func openOneConn(path, dsn string) (*sql.DB, error) {
	c, err := newSQLiteConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("sqldb: open sqlite: %w", err)
	}
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	if err := pingSQLite(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqldb: open sqlite %s: %w", path, err)
	}
	return db, nil
}

// pingSQLite opens the first connection, retrying while another process
// holds the lock. Switching a new file to WAL needs it exclusively, and
// SQLite answers SQLITE_BUSY at once there rather than waiting out the busy
// timeout: two parts of `up`, or replicas, opening one new file together
// would otherwise fail to start. It gives up after the busy timeout.
func pingSQLite(db *sql.DB) error {
	deadline := time.Now().Add(10 * time.Second)
	wait := 5 * time.Millisecond
	for {
		err := db.Ping()
		var sqliteErr *sqlite.Error
		if err == nil || !errors.As(err, &sqliteErr) || time.Now().After(deadline) {
			return err
		}
		if code := sqliteErr.Code() & 0xff; code != sqlite3.SQLITE_BUSY && code != sqlite3.SQLITE_LOCKED {
			return err
		}
		time.Sleep(wait) // another process's lock: nothing to wait on but time
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// ownerOnly creates the database file readable by its owner alone, before
// SQLite would create it 0644 (it holds password hashes, orders, payments),
// and tightens a file, WAL or shared-memory index an older version left
// open. SQLite gives the -wal and -shm files it creates the database file's
// mode (whatever the umask), so they follow.
func ownerOnly(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("sqldb: create %s: %w", path, err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err == nil && fi.Mode().Perm() != 0o600 {
			err = os.Chmod(p, 0o600)
		}
		if err != nil {
			return fmt.Errorf("sqldb: make %s owner-only: %w", p, err)
		}
	}
	return nil
}

// defaultConnectTimeout bounds a new PostgreSQL connection when
// DATABASE_URL names no connect_timeout.
const defaultConnectTimeout = 5 * time.Second

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

func openPostgres(ctx context.Context, cfg Config) (*DB, error) {
	if !schemaName.MatchString(cfg.Schema) {
		return nil, fmt.Errorf("sqldb: invalid schema name %q", cfg.Schema)
	}
	connCfg, err := pgx.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("sqldb: parse DATABASE_URL: %w", err)
	}
	// A server that does not answer at all (a network partition, a host
	// gone) would hold each new connection for the operating system's
	// TCP timeout, minutes, and every request with it: give up on a
	// connection after a few seconds instead (ErrUnavailable, a 503), unless
	// the URL sets connect_timeout.
	if connCfg.ConnectTimeout == 0 {
		connCfg.ConnectTimeout = defaultConnectTimeout
	}
	// Create the schema on a connection of its own, then open the pool with
	// the schema as search_path, so unqualified names are the service's own.
	conn, err := pgx.ConnectConfig(ctx, connCfg)
	if err != nil {
		return nil, fmt.Errorf("sqldb: connect postgres: %w", err)
	}
	// Only when it is missing: CREATE SCHEMA IF NOT EXISTS needs the
	// right to create schemas in the database even when the schema exists,
	// and a deployment gives each part a role that owns its schema and may
	// create no other (deploy/k8s/postgres/roles.sql).
	var exists bool
	err = conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", cfg.Schema).Scan(&exists)
	if err == nil && !exists {
		_, err = conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+cfg.Schema)
	}
	conn.Close(ctx)
	if err != nil && !isUnique(err) { // two replicas creating it at once
		return nil, fmt.Errorf("sqldb: create schema %s: %w", cfg.Schema, err)
	}
	connCfg.RuntimeParams["search_path"] = cfg.Schema
	pool := stdlib.OpenDB(*connCfg)
	conns := cfg.MaxConns
	if conns <= 0 {
		conns = 16
	}
	pool.SetMaxOpenConns(conns)
	pool.SetMaxIdleConns(conns)
	pool.SetConnMaxIdleTime(idleConnLife)
	if err := pool.PingContext(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("sqldb: ping postgres: %w", err)
	}
	return &DB{engine: Postgres, write: pool, read: pool}, nil
}

// sqliteMigrating serializes SQLite migrations in this process: goose has no
// SQLite locker, and two Opens of one file at once (replicas in tests) would
// both see version 0 and both try to apply it.
var sqliteMigrating sync.Mutex

func (db *DB) migrate(ctx context.Context, sets []Migrations) error {
	dialect := goose.DialectSQLite3
	if db.engine == Postgres {
		dialect = goose.DialectPostgres
	} else {
		sqliteMigrating.Lock()
		defer sqliteMigrating.Unlock()
	}
	for _, m := range sets {
		other, err := otherEngineFiles(m.FS, db.engine)
		if err != nil {
			return fmt.Errorf("sqldb: migrations %s: %w", m.Name, err)
		}
		opts := []goose.ProviderOption{
			goose.WithTableName("goose_" + m.Name),
			goose.WithDisableGlobalRegistry(true),
			goose.WithExcludeNames(other),
		}
		if db.engine == Postgres {
			// Replicas starting together take turns migrating.
			// Retry every second, not goose's default 5s: every service
			// shares the default lock id, so replicas starting together
			// would each wait whole periods.
			locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
			if err != nil {
				return fmt.Errorf("sqldb: migration lock: %w", err)
			}
			opts = append(opts, goose.WithSessionLocker(locker))
		}
		p, err := goose.NewProvider(dialect, db.write, m.FS, opts...)
		if err != nil {
			return fmt.Errorf("sqldb: migrations %s: %w", m.Name, err)
		}
		if _, err := p.Up(ctx); err != nil {
			return fmt.Errorf("sqldb: migrate %s: %w", m.Name, err)
		}
	}
	return nil
}

// otherEngineFiles lists the migrations written for another engine than e.
// A migration named NNNNN_name.sqlite.sql or NNNNN_name.postgres.sql runs
// on that engine only; the two may share a version number, so the schema
// has one history whichever engine it is on. The rare schema that no SQL
// fits on both (SQLite's FTS5 tables, PostgreSQL's text-search indexes)
// goes there; everything else stays in plain NNNNN_name.sql files.
func otherEngineFiles(files fs.FS, e Engine) ([]string, error) {
	other := Postgres
	if e == Postgres {
		other = SQLite
	}
	names, err := fs.Glob(files, "*."+other.String()+".sql")
	if err != nil {
		return nil, err
	}
	return names, nil
}

// Engine reports which database this is.
func (db *DB) Engine() Engine { return db.engine }

// Read is for queries outside a transaction. On SQLite its connections are
// read-only and run beside the writer.
func (db *DB) Read() *sql.DB { return db.read }

// Ping checks that the database answers (for /readyz).
func (db *DB) Ping(ctx context.Context) error {
	if err := db.write.PingContext(ctx); err != nil {
		return err
	}
	return db.read.PingContext(ctx)
}

// Close closes every connection.
func (db *DB) Close() error {
	var err error
	if db.group != nil {
		db.group.close()
		err = db.group.checkpoints.close()
	}
	err = errors.Join(err, db.write.Close())
	if db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	return err
}

// Tx is a write transaction. Functions registered with OnCommit run after a
// successful commit, never after a rollback.
type Tx struct {
	*sql.Tx
	engine   Engine
	onCommit []func()
	// detached: the transaction is shared with other callers (SQLite's
	// group commit), so a caller's cancelled context must not interrupt
	// a statement, which would roll back all of it.
	detached bool
}

// Engine reports which database the transaction runs on.
func (tx *Tx) Engine() Engine { return tx.engine }

// OnCommit runs f after the transaction commits.
func (tx *Tx) OnCommit(f func()) { tx.onCommit = append(tx.onCommit, f) }

// ctx is the context a statement runs with. A context already ended is
// kept: database/sql then refuses the statement before it reaches the
// driver, so a caller that gave up runs nothing more (and its function
// rolls back). One still live is detached where the transaction is shared,
// so that ending it does not interrupt a running statement.
func (tx *Tx) ctx(ctx context.Context) context.Context {
	if tx.detached && ctx.Err() == nil {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// ExecContext, QueryContext and QueryRowContext are sql.Tx's, with the
// context detached where the transaction is shared.
func (tx *Tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return tx.Tx.ExecContext(tx.ctx(ctx), q, args...)
}

func (tx *Tx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return tx.Tx.QueryContext(tx.ctx(ctx), q, args...)
}

func (tx *Tx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return tx.Tx.QueryRowContext(tx.ctx(ctx), q, args...)
}

// WithTx runs fn in a write transaction: committed if fn returns nil, rolled
// back otherwise (fn's error is returned through Err); a panic in fn rolls
// back and panics on. Keep fn short: on SQLite every writer waits for it,
// and fn may share its transaction with other callers' (commit.go), each in
// a savepoint of its own.
func (db *DB) WithTx(ctx context.Context, fn func(*Tx) error) error {
	if db.group != nil {
		return db.group.do(ctx, fn)
	}
	stx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqldb: begin: %w", Err(err))
	}
	tx := &Tx{Tx: stx, engine: db.engine}
	res := call(fn, tx)
	if res.err != nil || res.panicked {
		stx.Rollback()
		if res.panicked {
			panic(res.panicVal)
		}
		return res.err
	}
	if err := stx.Commit(); err != nil {
		return fmt.Errorf("sqldb: commit: %w", Err(err))
	}
	for _, f := range tx.onCommit {
		f()
	}
	return nil
}

// Err translates driver errors: no rows becomes ErrNotFound, a unique
// violation ErrConflict, a refused value ErrInvalidText and an unreachable
// or saturated database ErrUnavailable (all wrapping the original); others
// pass through.
func Err(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrConflict), errors.Is(err, ErrInvalidText),
		errors.Is(err, ErrUnavailable):
		// Already translated (WithTx translates what its function returns,
		// and a store may have done so inside it): wrapping again would log
		// "sqldb: conflict: insert user: sqldb: conflict: …".
		return err
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case isUnique(err):
		return fmt.Errorf("%w: %w", ErrConflict, err)
	case isInvalidText(err):
		return fmt.Errorf("%w: %w", ErrInvalidText, err)
	case isUnavailable(err):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// isUnavailable reports whether err says the database is out of reach or
// out of room rather than anything about the statement: it is worth trying
// again once the database is back.
//
// A context cancelled by the caller (a client gone, a process stopping) is
// not an outage; a deadline that ran out while waiting for the database is.
// On PostgreSQL: any failure to connect (refused, unreachable, a role
// refused login, the server starting or shutting down), a timeout, a
// connection that broke under a statement, and the SQLSTATE classes 08
// (connection exception) and 53 (insufficient resources: too many
// connections, disk full, out of memory) and 57P01–57P03 (the server
// shutting down, crashed, or not yet accepting connections). On SQLite: the
// lock still held by another process after the busy timeout
// (SQLITE_BUSY, SQLITE_LOCKED), and a file it cannot open, read, write or
// grow (SQLITE_CANTOPEN, SQLITE_IOERR, SQLITE_FULL).
func isUnavailable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var pgErr *pgconn.PgError
	var connectErr *pgconn.ConnectError
	switch {
	case errors.As(err, &connectErr):
		return true
	case errors.As(err, &pgErr):
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), strings.HasPrefix(pgErr.Code, "53"):
			return true
		case pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03":
			return true
		}
		return false
	}
	var sqliteErr *sqlite.Error
	if errors.As(err, &sqliteErr) {
		switch sqliteErr.Code() & 0xff { // the primary code, whatever the extended one
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN,
			sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL:
			return true
		}
		return false
	}
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) ||
		errors.As(err, &netErr) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE)
}

// isInvalidText reports whether the database refused a value for what it
// holds rather than for what the query does: PostgreSQL's
// character_not_in_repertoire (22021: a NUL or invalid UTF-8 in TEXT),
// untranslatable_character (22P05), string_data_right_truncation (22001)
// and SQLite's SQLITE_TOOBIG.
func isInvalidText(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "22021", "22P05", "22001":
			return true
		}
		return false
	}
	var sqliteErr *sqlite.Error
	if errors.As(err, &sqliteErr) {
		return sqliteErr.Code() == sqlite3.SQLITE_TOOBIG
	}
	return false
}

func isUnique(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var sqliteErr *sqlite.Error
	if errors.As(err, &sqliteErr) {
		code := sqliteErr.Code()
		return code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}
