package tickets

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
	"github.com/ticketing/ticketing/internal/platform/sqldb/sqldbtest"
	"github.com/ticketing/ticketing/internal/platform/textsearch"
)

// benchTicketsEnv sets how many tickets BenchmarkListOnSale lists from
// (default 10,000, so a plain -bench run stays short). docs/PERFORMANCE.md
// has the figures at 1,000,000 and the command that measures them.
const benchTicketsEnv = "TICKETING_BENCH_TICKETS"

// BenchmarkListOnSale times one page (24 tickets, as the web index asks)
// of the list: with a two-word search, in each order, and without one.
func BenchmarkListOnSale(b *testing.B) {
	n := 10_000
	if v := os.Getenv(benchTicketsEnv); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("%s=%q: want a positive number", benchTicketsEnv, v)
		}
	}
	ctx := context.Background()
	for _, e := range sqldbtest.Engines(b) {
		b.Run(fmt.Sprintf("%s/tickets=%d", e, n), func(b *testing.B) {
			db := sqldbtest.Open(b, e, migs...)
			start := time.Now()
			seedTickets(b, db, n)
			b.Logf("%s: seeded %d tickets in %v", e, n, time.Since(start).Round(time.Millisecond))
			st := NewStore(db)
			cases := []struct {
				name string
				l    Listing
			}{
				{"q=opera_balcony/newest", Listing{Search: "opera balcony", Sort: SortNewest}},
				{"q=opera_balcony/price_asc", Listing{Search: "opera balcony", Sort: SortPriceAsc}},
				{"q=opera_balcony/price_desc", Listing{Search: "opera balcony", Sort: SortPriceDesc}},
				{"q=Opéra_balc_vienna/newest", Listing{Search: "Opéra balc vienna", Sort: SortNewest}},
				{"q=opera/newest", Listing{Search: "opera", Sort: SortNewest}},
				{"q=none/newest", Listing{Search: "zzzz nothing", Sort: SortNewest}},
				{"no_search/newest", Listing{Sort: SortNewest}},
				{"no_search/price_asc", Listing{Sort: SortPriceAsc}},
			}
			for _, c := range cases {
				b.Run(c.name, func(b *testing.B) {
					l := c.l
					l.Limit = 25 // the web's page and one more
					var got int
					for b.Loop() {
						list, err := st.ListOnSale(ctx, l)
						if err != nil {
							b.Fatal(err)
						}
						got = len(list)
					}
					b.ReportMetric(float64(got), "tickets/op")
				})
			}
		})
	}
}

// Titles are made of a genre, an occasion, a city and a section, so a word
// of each kind is in about 1 title in 20, 20, 50 and 10: "opera balcony"
// matches about 1 in 200 (5,000 of 1,000,000).
var (
	benchGenres = strings.Fields("Opera Jazz Rock Ballet Symphony Comedy Musical Theatre Punk Folk " +
		"Blues Techno HipHop Metal Indie Soul Reggae Country Gospel Disco")
	benchOccasions = strings.Fields("Night Matinee Gala Premiere Festival Tour Live Acoustic Unplugged Encore " +
		"Summer Winter Spring Autumn Late Early Grand Final Opening Closing")
	benchCities = strings.Fields("Vienna Paris London Berlin Madrid Rome Lisbon Dublin Oslo Prague " +
		"Warsaw Athens Zürich Genève Brussels Amsterdam Copenhagen Stockholm Helsinki Budapest " +
		"Milan Naples Seville Porto Lyon Marseille Munich Hamburg Cologne Kraków " +
		"Boston Chicago Denver Austin Seattle Portland Toronto Montréal Vancouver Québec " +
		"Tokyo Osaka Seoul Sydney Melbourne Auckland Lima Bogotá Santiago Mexico")
	benchSections = strings.Fields("Balcony Stalls Circle Box Floor Standing Front Gallery Pit Terrace")
)

// seedTickets inserts n tickets, about 1 in 20 of them reserved, in
// multi-row INSERTs of 1,000 committed every 50,000: the store's own
// Insert, row by row, would take far longer for a million.
func seedTickets(tb testing.TB, db *sqldb.DB, n int) {
	tb.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	const cols = 9
	const batch = 1_000
	for done := 0; done < n; {
		err := db.WithTx(ctx, func(tx *sqldb.Tx) error {
			for end := min(n, done+50_000); done < end; {
				rows := min(batch, end-done)
				var q strings.Builder
				q.WriteString(`INSERT INTO tickets (id, title, title_search, price, user_id, version, order_id, created_at, edited_version) VALUES `)
				args := make([]any, 0, rows*cols)
				for r := range rows {
					if r > 0 {
						q.WriteString(", ")
					}
					q.WriteString("(")
					for c := range cols {
						if c > 0 {
							q.WriteString(", ")
						}
						fmt.Fprintf(&q, "$%d", r*cols+c+1)
					}
					q.WriteString(")")
					title := fmt.Sprintf("%s %s, %s — %s seat %d",
						benchGenres[rng.IntN(len(benchGenres))], benchOccasions[rng.IntN(len(benchOccasions))],
						benchSections[rng.IntN(len(benchSections))], benchCities[rng.IntN(len(benchCities))], 1+rng.IntN(60))
					var orderID any
					if rng.IntN(20) == 0 {
						orderID = "order-" + strconv.Itoa(done+r)
					}
					args = append(args, uuid.Must(uuid.NewV7()).String(), title, textsearch.Text(title),
						int64(500+rng.IntN(50_000)), "seller-"+strconv.Itoa(rng.IntN(10_000)), int64(0), orderID,
						base+int64(done+r)*1000, int64(0))
				}
				if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
					return fmt.Errorf("seed: %w", err)
				}
				done += rows
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	if db.Engine() == sqldb.Postgres {
		// As autovacuum would after a load this size: the planner's
		// figures for the new rows and words.
		if _, err := db.Read().ExecContext(ctx, `ANALYZE tickets`); err != nil {
			tb.Fatal(err)
		}
	}
}
