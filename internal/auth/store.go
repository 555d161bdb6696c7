package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ticketing/ticketing/internal/platform/session"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// Store keeps users and revoked sessions in the service's database.
// Errors come out translated by sqldb.Err: sqldb.ErrNotFound,
// sqldb.ErrConflict.
type Store struct {
	db *sqldb.DB
}

// NewStore returns a Store over db (migrated with Migrations).
func NewStore(db *sqldb.DB) *Store { return &Store{db: db} }

// InsertUser inserts u; sqldb.ErrConflict when its email is taken.
func (st *Store) InsertUser(ctx context.Context, u User) error {
	const q = `INSERT INTO users (id, email, password_hash, created_at, organizer) VALUES ($1, $2, $3, $4, $5)`
	err := st.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		_, err := tx.ExecContext(ctx, q, u.ID, u.Email, u.PasswordHash, u.CreatedAt.UnixMilli(), u.Organizer)
		return sqldb.Err(err)
	})
	if err != nil {
		return fmt.Errorf("insert user: %w", err)
	}
	return nil
}

// UserByEmail returns the user with the normalised email; sqldb.ErrNotFound
// when there is none.
func (st *Store) UserByEmail(ctx context.Context, email string) (User, error) {
	const q = `SELECT id, email, password_hash, created_at, organizer FROM users WHERE email = $1`
	var (
		u         User
		createdAt int64
	)
	err := st.db.Read().QueryRowContext(ctx, q, email).Scan(&u.ID, &u.Email, &u.PasswordHash, &createdAt, &u.Organizer)
	if err != nil {
		return User{}, fmt.Errorf("user by email: %w", sqldb.Err(err))
	}
	u.CreatedAt = time.UnixMilli(createdAt).UTC()
	return u, nil
}

// SetOrganizer makes the user with the normalised email an organizer (on)
// or not, inside tx, and returns its id and whether that changed anything;
// sqldb.ErrNotFound when no user has the email. A plain UPDATE: it runs
// beside the service, which never writes the flag.
func (st *Store) SetOrganizer(ctx context.Context, tx *sqldb.Tx, email string, on bool) (id string, changed bool, err error) {
	const q = `UPDATE users SET organizer = $1 WHERE email = $2 AND organizer <> $1 RETURNING id`
	err = tx.QueryRowContext(ctx, q, on, email).Scan(&id)
	if err == nil {
		return id, true, nil
	}
	if err = sqldb.Err(err); !errors.Is(err, sqldb.ErrNotFound) {
		return "", false, fmt.Errorf("set organizer: %w", err)
	}
	// No row changed: the flag was already so, or there is no such user.
	const exists = `SELECT id FROM users WHERE email = $1`
	if err := tx.QueryRowContext(ctx, exists, email).Scan(&id); err != nil {
		return "", false, fmt.Errorf("set organizer: %w", sqldb.Err(err))
	}
	return id, false, nil
}

// AddRevocation records rv inside tx under id and reports whether it is
// new (false: a revocation with that id is already recorded). Revocations
// that have stopped mattering are swept out in the same transaction.
func (st *Store) AddRevocation(ctx context.Context, tx *sqldb.Tx, id string, rv session.Revocation, now time.Time) (bool, error) {
	const sweep = `DELETE FROM revocations WHERE expires_at <= $1`
	if _, err := tx.ExecContext(ctx, sweep, now.UnixMilli()); err != nil {
		return false, fmt.Errorf("sweep revocations: %w", sqldb.Err(err))
	}
	const q = `INSERT INTO revocations (id, user_id, token_id, not_before, expires_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`
	var tokenID, notBefore any // NULL unless set
	if rv.TokenID != "" {
		tokenID = rv.TokenID
	}
	if !rv.NotBefore.IsZero() {
		notBefore = rv.NotBefore.UnixMilli()
	}
	res, err := tx.ExecContext(ctx, q, id, rv.UserID, tokenID, notBefore, rv.ExpiresAt.UnixMilli(), now.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("insert revocation: %w", sqldb.Err(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("insert revocation: %w", err)
	}
	return n == 1, nil
}
