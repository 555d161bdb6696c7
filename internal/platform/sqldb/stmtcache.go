package sqldb

import (
	"context"
	"database/sql/driver"
	"errors"
	"reflect"
	"strings"

	"modernc.org/sqlite"
)

// SQLite compiles each statement a store runs by its text (tx.ExecContext,
// QueryRowContext, db.Read().QueryContext) anew on every call, and for the
// short statements of the hot paths compiling costs more than running: an
// on-sale's profile spent 17% of the whole process's CPU in SQLite's parser.
// So every SQLite connection keeps the statements it has run compiled, by
// their text, and runs them again from there. It is done under
// database/sql, on each connection, so every store gets it without asking;
// PostgreSQL needs none (pgx keeps its own per-connection statement cache).

// maxCachedStmts bounds each connection's cache. The services' statements are
// a few hundred fixed strings; a query built with a variable number of
// placeholders runs compiled afresh once the cache is full, as all did before.
const maxCachedStmts = 256

// sqliteConnector opens SQLite connections that keep their statements.
type sqliteConnector struct{ driver.Connector }

func newSQLiteConnector(dsn string) (driver.Connector, error) {
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sqliteConnector{c}, nil
}

func (c sqliteConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &cachingConn{Conn: conn, stmts: map[string]*cachedStmt{}}, nil
}

// The interfaces modernc's connection implements and database/sql looks for.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// cachingConn is one SQLite connection with its compiled statements.
// database/sql never uses a driver connection from two goroutines at once
// (each call, a Rows' Next and Close included, holds the connection's
// lock), so the cache needs no lock of its own.
type cachingConn struct {
	driver.Conn
	stmts map[string]*cachedStmt
}

// cachedStmt is a compiled statement and whether a Rows still reads from
// it: SQLite has one cursor per compiled statement, so the same text run
// again while its rows are open (a loop over rows running its own query
// again) is compiled apart instead.
type cachedStmt struct {
	stmt sqliteStmt
	busy bool
}

// sqliteStmt is what modernc's compiled statement implements and the cache
// uses.
type sqliteStmt interface {
	driver.StmtExecContext
	driver.StmtQueryContext
	Close() error
}

func (c *cachingConn) inner() sqliteConn { return c.Conn.(sqliteConn) }

// stmt is q's compiled statement, compiling it on first use; nil when the
// cache is full or q's statement is busy, for the caller to run q apart. A
// statement that does not compile is the caller's error: compiling it apart
// would only fail again.
func (c *cachingConn) stmt(ctx context.Context, q string) (*cachedStmt, error) {
	if s, ok := c.stmts[q]; ok {
		if s.busy {
			return nil, nil
		}
		return s, nil
	}
	if len(c.stmts) >= maxCachedStmts || !cacheable(q) {
		return nil, nil
	}
	ds, err := c.inner().PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	st, ok := ds.(sqliteStmt)
	if !ok {
		ds.Close()
		return nil, nil
	}
	s := &cachedStmt{stmt: st}
	c.stmts[q] = s
	return s, nil
}

// cacheable reports whether q is a statement worth keeping: the data
// statements a service runs again and again, not the schema changes and
// pragmas of its migrations, each run once.
func cacheable(q string) bool {
	q = strings.TrimLeft(q, " \t\r\n(")
	end := strings.IndexFunc(q, func(r rune) bool { return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') })
	if end < 0 {
		end = len(q)
	}
	switch strings.ToUpper(q[:end]) {
	case "SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "SAVEPOINT", "RELEASE":
		return true
	}
	return false
}

func (c *cachingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	s, err := c.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.inner().ExecContext(ctx, q, args)
	}
	return s.stmt.ExecContext(ctx, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	s, err := c.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.inner().QueryContext(ctx, q, args)
	}
	rows, err := s.stmt.QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	s.busy = true
	return &cachedRows{Rows: rows, stmt: s}, nil
}

func (c *cachingConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	return c.inner().PrepareContext(ctx, q)
}

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.inner().BeginTx(ctx, opts)
}

func (c *cachingConn) Ping(ctx context.Context) error { return c.inner().Ping(ctx) }

func (c *cachingConn) ResetSession(ctx context.Context) error { return c.inner().ResetSession(ctx) }

func (c *cachingConn) IsValid() bool { return c.inner().IsValid() }

func (c *cachingConn) Close() error {
	var errs []error
	for _, s := range c.stmts {
		errs = append(errs, s.stmt.Close())
	}
	clear(c.stmts)
	return errors.Join(append(errs, c.Conn.Close())...)
}

// cachedRows reads from a cached statement and frees it on Close (which
// database/sql always calls, also after a Row's Scan).
type cachedRows struct {
	driver.Rows
	stmt *cachedStmt
}

func (r *cachedRows) Close() error {
	r.stmt.busy = false
	return r.Rows.Close()
}

// The column-type interfaces of the driver's rows, for sql.Rows.ColumnTypes.
func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}
