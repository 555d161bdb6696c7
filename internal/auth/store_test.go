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

// TestStoreSetOrganizer: the flag is set and cleared by email, says whether
// it changed anything, and comes back with the user, on every engine.
func TestStoreSetOrganizer(t *testing.T) {
	ctx := context.Background()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		st := NewStore(db)
		ann := User{ID: uuid.Must(uuid.NewV7()).String(), Email: "ann@example.com", PasswordHash: "h", CreatedAt: time.UnixMilli(1).UTC()}
		bob := User{ID: uuid.Must(uuid.NewV7()).String(), Email: "bob@example.com", PasswordHash: "h", CreatedAt: time.UnixMilli(1).UTC()}
		for _, u := range []User{ann, bob} {
			if err := st.InsertUser(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		steps := []struct {
			name        string
			email       string
			on          bool
			wantChanged bool
			wantErr     error
			wantAnn     bool // ann's flag afterwards
		}{
			{name: "a new user is no organizer", email: "ann@example.com", on: false, wantChanged: false},
			{name: "grant", email: "ann@example.com", on: true, wantChanged: true, wantAnn: true},
			{name: "grant again", email: "ann@example.com", on: true, wantChanged: false, wantAnn: true},
			{name: "unknown email", email: "carl@example.com", on: true, wantErr: sqldb.ErrNotFound, wantAnn: true},
			{name: "revoke", email: "ann@example.com", on: false, wantChanged: true},
			{name: "revoke again", email: "ann@example.com", on: false, wantChanged: false},
		}
		for _, s := range steps {
			var (
				id      string
				changed bool
			)
			err := db.WithTx(ctx, func(tx *sqldb.Tx) error {
				var err error
				id, changed, err = st.SetOrganizer(ctx, tx, s.email, s.on)
				return err
			})
			switch {
			case s.wantErr != nil:
				if !errors.Is(err, s.wantErr) {
					t.Errorf("%s: err = %v, want %v", s.name, err, s.wantErr)
				}
			case err != nil:
				t.Fatalf("%s: %v", s.name, err)
			case id != ann.ID || changed != s.wantChanged:
				t.Errorf("%s: id %q changed %v, want %q %v", s.name, id, changed, ann.ID, s.wantChanged)
			}
			got, err := st.UserByEmail(ctx, "ann@example.com")
			if err != nil {
				t.Fatal(err)
			}
			if got.Organizer != s.wantAnn {
				t.Errorf("%s: ann's organizer = %v, want %v", s.name, got.Organizer, s.wantAnn)
			}
			if got, err := st.UserByEmail(ctx, "bob@example.com"); err != nil || got.Organizer {
				t.Errorf("%s: bob = %+v %v, want no organizer", s.name, got, err)
			}
		}
	}, Migrations)
}
