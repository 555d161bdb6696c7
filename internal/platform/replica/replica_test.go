package replica_test

import (
	"context"
	"errors"
	"testing"
	"testing/fstest"

	"github.com/ticketing/ticketing/internal/platform/replica"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
)

var things = sqldb.Migrations{Name: "things", FS: fstest.MapFS{
	"00001_things.sql": {Data: []byte(`-- +goose Up
CREATE TABLE things (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    n       BIGINT NOT NULL,
    version BIGINT NOT NULL
);
-- +goose Down
DROP TABLE things;
`)},
}}

type row struct {
	name    string
	n       int64
	version int64
}

func read(t *testing.T, db *sqldb.DB, id string) row {
	t.Helper()
	var r row
	err := db.Read().QueryRow(`SELECT name, n, version FROM things WHERE id = $1`, id).Scan(&r.name, &r.n, &r.version)
	if err != nil {
		t.Fatalf("read %s: %v", id, err)
	}
	return r
}

// TestApply walks one record through the rule on every engine: each step
// is an event as the bus may deliver it (late, twice, early, before its
// record), with the outcome and the row it must leave.
func TestApply(t *testing.T) {
	t.Parallel()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		t.Parallel()
		ctx := context.Background()
		steps := []struct {
			name    string
			insert  bool
			id      string
			version int64
			set     replica.Set
			want    replica.Outcome
			row     row // of "a" afterwards
		}{
			{"update before the record", false, "a", 1, replica.Set{"name": "x", "n": 1}, replica.Behind, row{}},
			{"create", true, "a", 0, replica.Set{"name": "zero", "n": 0}, replica.Applied, row{"zero", 0, 0}},
			{"create again", true, "a", 0, replica.Set{"name": "other", "n": 9}, replica.Duplicate, row{"zero", 0, 0}},
			{"version 2 before 1", false, "a", 2, replica.Set{"name": "two", "n": 2}, replica.Behind, row{"zero", 0, 0}},
			{"version 1", false, "a", 1, replica.Set{"name": "one", "n": 1}, replica.Applied, row{"one", 1, 1}},
			{"version 2", false, "a", 2, replica.Set{"name": "two", "n": 2}, replica.Applied, row{"two", 2, 2}},
			{"version 1 again", false, "a", 1, replica.Set{"name": "one", "n": 1}, replica.Duplicate, row{"two", 2, 2}},
			{"version 2 again", false, "a", 2, replica.Set{"name": "changed", "n": 7}, replica.Duplicate, row{"two", 2, 2}},
			{"version 3 of one column", false, "a", 3, replica.Set{"n": 3}, replica.Applied, row{"two", 3, 3}},
		}
		for _, st := range steps {
			var got replica.Outcome
			err := db.WithTx(ctx, func(tx *sqldb.Tx) error {
				var err error
				if st.insert {
					got, err = replica.Insert(ctx, tx, "things", st.id, st.version, st.set)
				} else {
					got, err = replica.Apply(ctx, tx, "things", st.id, st.version, st.set)
				}
				return err
			})
			if got != st.want {
				t.Fatalf("%s: outcome %v, want %v (err %v)", st.name, got, st.want, err)
			}
			if (st.want == replica.Behind) != errors.Is(err, replica.ErrBehind) {
				t.Fatalf("%s: err %v, want ErrBehind only when behind", st.name, err)
			}
			if st.want != replica.Behind && err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if st.row != (row{}) {
				if r := read(t, db, "a"); r != st.row {
					t.Fatalf("%s: row %+v, want %+v", st.name, r, st.row)
				}
			}
		}
	}, things)
}

// TestBehindIsEarly: the bus recognises a behind error, however wrapped,
// as an early message by its EarlyMessage method (natsbus cannot be
// imported by this package, nor this one by it).
func TestBehindIsEarly(t *testing.T) {
	t.Parallel()
	err := errors.Join(errors.New("update ticket"), replica.ErrBehind)
	var early interface{ EarlyMessage() bool }
	if !errors.As(err, &early) || !early.EarlyMessage() {
		t.Fatal("a wrapped ErrBehind does not say it is early")
	}
}

// TestNamesChecked: table and column names go into the statement text, so
// anything but a plain identifier is refused before it reaches SQL.
func TestNamesChecked(t *testing.T) {
	t.Parallel()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		tests := []struct {
			name  string
			table string
			set   replica.Set
		}{
			{"table with a quote", "things'", replica.Set{"n": 1}},
			{"column with a space", "things", replica.Set{"n = 1; --": 1}},
			{"id as a column", "things", replica.Set{"id": "b"}},
			{"version as a column", "things", replica.Set{"version": 9}},
		}
		for _, tc := range tests {
			err := db.WithTx(ctx, func(tx *sqldb.Tx) error {
				_, err := replica.Apply(ctx, tx, tc.table, "a", 1, tc.set)
				return err
			})
			if err == nil || errors.Is(err, replica.ErrBehind) {
				t.Errorf("%s: err %v, want a refusal", tc.name, err)
			}
		}
	}, things)
}
