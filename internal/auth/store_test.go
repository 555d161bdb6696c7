package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

func TestStore(t *testing.T) {
	ctx := context.Background()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		st := NewStore(db)
		ann := User{
			ID:           uuid.Must(uuid.NewV7()).String(),
			Email:        "ann@example.com",
			PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$a2V5",
			CreatedAt:    time.Date(2030, 1, 2, 3, 4, 5, 678_000_000, time.UTC),
		}
		if err := st.InsertUser(ctx, ann); err != nil {
			t.Fatalf("create: %v", err)
		}

		got, err := st.UserByEmail(ctx, "ann@example.com")
		if err != nil {
			t.Fatalf("byEmail: %v", err)
		}
		if got != ann {
			t.Errorf("byEmail = %+v, want %+v", got, ann)
		}

		if _, err := st.UserByEmail(ctx, "bob@example.com"); !errors.Is(err, sqldb.ErrNotFound) {
			t.Errorf("byEmail(unknown) err = %v, want ErrNotFound", err)
		}

		dup := ann
		dup.ID = uuid.Must(uuid.NewV7()).String()
		if err := st.InsertUser(ctx, dup); !errors.Is(err, sqldb.ErrConflict) {
			t.Errorf("create(same email) err = %v, want ErrConflict", err)
		}
	}, Migrations)
}
