package tickets

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ticketing/ticketing/internal/platform/outbox"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
	"github.com/ticketing/ticketing/internal/platform/textsearch"
)

func TestStore(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		st := NewStore(db)
		at := time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
		insert := func(t *testing.T, tk Ticket) {
			t.Helper()
			if err := db.WithTx(ctx, func(tx *sqldb.Tx) error { return st.Insert(ctx, tx, tk) }); err != nil {
				t.Fatalf("insert %s: %v", tk.ID, err)
			}
		}

		t.Run("insert and get round trip", func(t *testing.T) {
			want := Ticket{ID: "rt", Title: "Ça va 🎫", Price: 100_000_000, UserID: "u1", Status: StatusOnSale, CreatedAt: at}
			insert(t, want)
			got, err := st.Get(ctx, "rt")
			if err != nil || got != want {
				t.Fatalf("Get = %+v, %v; want %+v", got, err, want)
			}
			if err := db.WithTx(ctx, func(tx *sqldb.Tx) error { return st.Insert(ctx, tx, want) }); !errors.Is(err, sqldb.ErrConflict) {
				t.Fatalf("duplicate insert: %v, want ErrConflict", err)
			}
		})

		t.Run("get unknown", func(t *testing.T) {
			if _, err := st.Get(ctx, "nope"); !errors.Is(err, sqldb.ErrNotFound) {
				t.Fatalf("Get unknown = %v", err)
			}
		})

		t.Run("update checks the version read", func(t *testing.T) {
			insert(t, Ticket{ID: "v", Title: "v0", Price: 1, UserID: "u1", CreatedAt: at})
			write := func(tk Ticket, read int64) error {
				return db.WithTx(ctx, func(tx *sqldb.Tx) error { return st.Update(ctx, tx, tk, read) })
			}
			// Two writers both read version 0: the first moves it to 1...
			if err := write(Ticket{ID: "v", Title: "first", Price: 2, Version: 1, OrderID: "o1", Status: StatusReserved}, 0); err != nil {
				t.Fatalf("first update: %v", err)
			}
			// ...and the second, still based on version 0, writes nothing.
			if err := write(Ticket{ID: "v", Title: "second", Price: 3, Version: 1}, 0); !errors.Is(err, errStale) {
				t.Fatalf("stale update = %v, want errStale", err)
			}
			got, _ := st.Get(ctx, "v")
			if got.Title != "first" || got.Version != 1 || got.OrderID != "o1" || got.Price != 2 {
				t.Fatalf("after stale update: %+v", got)
			}
			// Clearing the order stores NULL: the ticket is on sale again.
			if err := write(Ticket{ID: "v", Title: "first", Price: 2, Version: 2, Status: StatusOnSale}, 1); err != nil {
				t.Fatalf("release: %v", err)
			}
			list, _ := st.ListOnSale(ctx, Listing{Search: "first"})
			if len(list) != 1 || list[0].ID != "v" || list[0].OrderID != "" {
				t.Fatalf("released ticket not on sale: %+v", list)
			}
			if err := write(Ticket{ID: "gone", Title: "x", Price: 1, Version: 1}, 0); !errors.Is(err, errStale) {
				t.Fatalf("update of unknown id = %v, want errStale", err)
			}
		})

		t.Run("settled orders", func(t *testing.T) {
			settled := func(orderID string) bool {
				t.Helper()
				var got bool
				if err := db.WithTx(ctx, func(tx *sqldb.Tx) error {
					var err error
					got, err = st.Settled(ctx, tx, orderID)
					return err
				}); err != nil {
					t.Fatal(err)
				}
				return got
			}
			if settled("o9") || settled("o10") {
				t.Fatal("settled before anything was recorded")
			}
			for range 2 { // recording a release twice is a no-op
				if err := db.WithTx(ctx, func(tx *sqldb.Tx) error { return st.RecordRelease(ctx, tx, "o9", "t9", at) }); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.WithTx(ctx, func(tx *sqldb.Tx) error { return st.RecordRefusal(ctx, tx, "o10", "t9", "price_change", at) }); err != nil {
				t.Fatal(err)
			}
			// A second refusal of one order fails, so its event rolls back.
			err := db.WithTx(ctx, func(tx *sqldb.Tx) error { return st.RecordRefusal(ctx, tx, "o10", "t9", "price_change", at) })
			if !errors.Is(err, sqldb.ErrConflict) {
				t.Fatalf("second refusal = %v, want ErrConflict", err)
			}
			if !settled("o9") || !settled("o10") || settled("o11") {
				t.Fatal("Settled does not see the release and the refusal")
			}
		})
	}, migs...)
}

func TestStoreListOnSale(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		st := NewStore(db)
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		seed := []Ticket{
			{ID: "a", Title: "Rock Concert", OrderID: ""},
			{ID: "b", Title: "100% Jazz", OrderID: ""},
			{ID: "c", Title: "jazz_club night", OrderID: ""},
			{ID: "d", Title: "Jazz reserved", OrderID: "o1"},
			{ID: "e", Title: `back\slash JAZZ`, OrderID: ""},
			{ID: "f", Title: "ÉTÉ festival", OrderID: ""},
			{ID: "g", Title: "Opera night, balcony", OrderID: ""},
			{ID: "h", Title: "Café Müller — ﬁnal night", OrderID: ""},
			{ID: "i", Title: `"Quoted" NEAR(x) -minus * star & and | or ! not: colon`, OrderID: ""},
			{ID: "j", Title: "東京 コンサート", OrderID: ""},
		}
		for i, tk := range seed {
			tk.Price, tk.UserID, tk.CreatedAt = 100, "u", base.Add(time.Duration(i)*time.Minute)
			if err := db.WithTx(ctx, func(tx *sqldb.Tx) error { return st.Insert(ctx, tx, tk) }); err != nil {
				t.Fatal(err)
			}
		}
		all := "j,i,h,g,f,e,c,b,a"
		tests := []struct {
			search string
			want   string // ids, newest first
		}{
			{"", all},
			{"   ", all},
			{"jazz", "e,c,b"},
			{"JaZz", "e,c,b"},
			{"opera balcony", "g"},    // every word...
			{"balcony opera", "g"},    // ...in any order
			{"OPERA, Balcony!", "g"},  // case and punctuation
			{"opera balc", "g"},       // the start of a word
			{"opera stalls", ""},      // every word, not any
			{"pera", ""},              // words start where they start
			{"cafe muller", "h"},      // accents folded in the search...
			{"CAFÉ", "h"},             // ...and in the title
			{"final", "h"},            // a ligature is its letters
			{"night", "h,g,c"},        // jazz_club night: _ separates words
			{"club", "c"},             //
			{"ete", "f"},              //
			{"100", "b"},              //
			{"100%", "b"},             // % is no wildcard, only a separator
			{"%", all},                // no words: no search
			{`back\slash`, "e"},       // \ is no escape
			{"東京", "j"},               //
			{`"quoted"`, "i"},         // FTS5 and tsquery syntax is text
			{`"`, all},                //
			{`near(x)`, "i"},          //
			{`-minus`, "i"},           //
			{`star*`, "i"},            //
			{`and & or | not !`, "i"}, //
			{`colon:*`, "i"},          //
			{`NEAR OR AND NOT`, "i"},  // operators are words to find
			{`')`, all},               // a quote closing nothing
			{"reserved", ""},          // held by an order: not on sale
			{"nothing like it", ""},   //
		}
		for _, tt := range tests {
			t.Run("q="+tt.search, func(t *testing.T) {
				list, err := st.ListOnSale(ctx, Listing{Search: tt.search})
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, tk := range list {
					ids = append(ids, tk.ID)
				}
				if got := strings.Join(ids, ","); got != tt.want {
					t.Fatalf("ids %q, want %q", got, tt.want)
				}
			})
		}
		t.Run("a title edited is found by its new words only", func(t *testing.T) {
			err := db.WithTx(ctx, func(tx *sqldb.Tx) error {
				return st.Update(ctx, tx, Ticket{ID: "a", Title: "Punk gig", Price: 100, Version: 1, Status: StatusOnSale}, 0)
			})
			if err != nil {
				t.Fatal(err)
			}
			for q, want := range map[string]int{"rock": 0, "concert": 0, "punk gig": 1} {
				if list, err := st.ListOnSale(ctx, Listing{Search: q}); err != nil || len(list) != want {
					t.Errorf("q=%s: %d tickets, %v; want %d", q, len(list), err, want)
				}
			}
		})
	}, migs...)
}

func TestStoreListOnSalePages(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		st := NewStore(db)
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		// Newest first: g, f, then e/d/c listed in the same millisecond
		// (ordered by id), b reserved, a.
		seed := []struct {
			id      string
			minute  int
			orderID string
		}{{"a", 0, ""}, {"b", 1, "o1"}, {"c", 2, ""}, {"d", 2, ""}, {"e", 2, ""}, {"f", 3, ""}, {"g", 4, ""}}
		for _, s := range seed {
			tk := Ticket{ID: s.id, Title: "Show " + s.id, Price: 100, UserID: "u", OrderID: s.orderID,
				CreatedAt: base.Add(time.Duration(s.minute) * time.Minute)}
			if err := db.WithTx(ctx, func(tx *sqldb.Tx) error { return st.Insert(ctx, tx, tk) }); err != nil {
				t.Fatal(err)
			}
		}
		ids := func(l Listing) string {
			t.Helper()
			list, err := st.ListOnSale(ctx, l)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, tk := range list {
				out = append(out, tk.ID)
			}
			return strings.Join(out, ",")
		}
		tests := []struct {
			name string
			l    Listing
			want string
		}{
			{"all", Listing{}, "g,f,e,d,c,a"},
			{"first page", Listing{Limit: 2}, "g,f"},
			{"second page", Listing{After: "f", Limit: 2}, "e,d"},
			{"within one millisecond, by id", Listing{After: "e", Limit: 2}, "d,c"},
			{"last page", Listing{After: "c", Limit: 2}, "a"},
			{"after the last", Listing{After: "a", Limit: 2}, ""},
			{"after a ticket reserved since", Listing{After: "b"}, "a"},
			{"after an unknown ticket", Listing{After: "zzz"}, ""},
			{"with a search", Listing{Search: "show", After: "g", Limit: 1}, "f"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if got := ids(tt.l); got != tt.want {
					t.Errorf("ids %q, want %q", got, tt.want)
				}
			})
		}
	}, migs...)
}

// TestStoreSearchPlans pages through searches in every order with each of
// SQLite's two plans (walk the list, or sort the matches: see matchWords)
// and checks both against the same search done in Go over every ticket.
func TestStoreSearchPlans(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		seedTickets(t, db, 2000)
		st := NewStore(db)
		all, err := st.ListOnSale(ctx, Listing{})
		if err != nil {
			t.Fatal(err)
		}
		less := map[Sort]func(a, b Ticket) bool{
			SortNewest: func(a, b Ticket) bool {
				return a.CreatedAt.After(b.CreatedAt) || a.CreatedAt.Equal(b.CreatedAt) && a.ID > b.ID
			},
			SortPriceAsc:  func(a, b Ticket) bool { return a.Price < b.Price || a.Price == b.Price && a.ID < b.ID },
			SortPriceDesc: func(a, b Ticket) bool { return a.Price > b.Price || a.Price == b.Price && a.ID > b.ID },
		}
		for _, q := range []string{"opera", "Opéra balc", "vienna seat 1", "zurich", "nothing at all"} {
			var want []Ticket
		tickets:
			for _, tk := range all {
				for _, w := range textsearch.Words(q) {
					if !slices.ContainsFunc(strings.Fields(textsearch.Text(tk.Title)), func(tw string) bool { return strings.HasPrefix(tw, w) }) {
						continue tickets
					}
				}
				want = append(want, tk)
			}
			if (len(want) == 0) != (q == "nothing at all") {
				t.Fatalf("q=%s matches %d of %d tickets: the seed does not test it", q, len(want), len(all))
			}
			for sort, lessFn := range less {
				slices.SortFunc(want, func(a, b Ticket) int {
					if lessFn(a, b) {
						return -1
					}
					return 1
				})
				for _, many := range []int{1, 1_000_000} { // walk, sort the matches
					t.Run(fmt.Sprintf("q=%s/%s/many=%d", q, sort, many), func(t *testing.T) {
						st.manyMatches = many
						var got []Ticket
						l := Listing{Search: q, Sort: sort, Limit: 7}
						for range 1000 {
							page, err := st.ListOnSale(ctx, l)
							if err != nil {
								t.Fatal(err)
							}
							got = append(got, page...)
							if len(page) < l.Limit {
								break
							}
							l.After, l.AfterPrice = page[len(page)-1].ID, page[len(page)-1].Price
						}
						if len(got) != len(want) {
							t.Fatalf("%d tickets, want %d", len(got), len(want))
						}
						for i := range got {
							if got[i].ID != want[i].ID {
								t.Fatalf("ticket %d is %s %q, want %s %q", i, got[i].ID, got[i].Title, want[i].ID, want[i].Title)
							}
						}
					})
				}
			}
		}
	}, migs...)
}

// TestSearchMigrationOldTitles: tickets listed before the search migration
// hold only their lower-cased title; after it their words, accents folded,
// find them on both engines.
func TestSearchMigrationOldTitles(t *testing.T) {
	for _, e := range sqldbtest.Engines(t) {
		t.Run(e.String(), func(t *testing.T) {
			ctx := context.Background()
			// The migrations as they were before search: up to 00004.
			before := fstest.MapFS{}
			files, err := fs.Glob(Migrations.FS, "*.sql")
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range files {
				if f < "00005" {
					b, err := fs.ReadFile(Migrations.FS, f)
					if err != nil {
						t.Fatal(err)
					}
					before[f] = &fstest.MapFile{Data: b}
				}
			}
			cfg := sqldbtest.Config(t, e, outbox.Migrations, sqldb.Migrations{Name: Migrations.Name, FS: before})
			old := sqldbtest.OpenConfig(t, cfg)
			titles := map[string]string{"a": "Café Crème — Opéra, BALCONY", "b": "Rock night"}
			for id, title := range titles {
				err := old.WithTx(ctx, func(tx *sqldb.Tx) error {
					_, err := tx.ExecContext(ctx, `INSERT INTO tickets (id, title, title_search, price, user_id, version, created_at)
						VALUES ($1, $2, $3, 100, 'u', 0, 0)`, id, title, strings.ToLower(title))
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			old.Close()
			cfg.Migrations = migs
			st := NewStore(sqldbtest.OpenConfig(t, cfg))
			for q, want := range map[string]string{"cafe creme": "a", "opera balc": "a", "CRÈME": "a", "night": "b", "cafe rock": ""} {
				list, err := st.ListOnSale(ctx, Listing{Search: q})
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, tk := range list {
					ids = append(ids, tk.ID)
				}
				if got := strings.Join(ids, ","); got != want {
					t.Errorf("q=%s: %q, want %q", q, got, want)
				}
			}
		})
	}
}
