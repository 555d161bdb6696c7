package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// store keeps users in the service's database. Errors come out translated
// by sqldb.Err: sqldb.ErrNotFound, sqldb.ErrConflict.
type store struct {
	db *sqldb.DB
}

// create inserts u; sqldb.ErrConflict when its email is taken.
func (st store) create(ctx context.Context, u User) error {
	const q = `INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)`
	err := st.db.WithTx(ctx, func(tx *sqldb.Tx) error {
		_, err := tx.ExecContext(ctx, q, u.ID, u.Email, u.PasswordHash, u.CreatedAt.UnixMilli())
		return sqldb.Err(err)
	})
	if err != nil {
		return fmt.Errorf("insert user: %w", err)
	}
	return nil
}

// byEmail returns the user with the normalised email; sqldb.ErrNotFound
// when there is none.
func (st store) byEmail(ctx context.Context, email string) (User, error) {
	const q = `SELECT id, email, password_hash, created_at FROM users WHERE email = $1`
	var (
		u         User
		createdAt int64
	)
	err := st.db.Read().QueryRowContext(ctx, q, email).Scan(&u.ID, &u.Email, &u.PasswordHash, &createdAt)
	if err != nil {
		return User{}, fmt.Errorf("user by email: %w", sqldb.Err(err))
	}
	u.CreatedAt = time.UnixMilli(createdAt).UTC()
	return u, nil
}
