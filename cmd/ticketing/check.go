package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/ticketing/ticketing/internal/payments"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

const checkUsage = `Usage:
  ticketing check [flags]   verify the books: every ledger transaction balances,
                            every paid order has exactly one charge entry, no
                            payout exceeds what was collected

It only reads payments' database where the system keeps it, and works while
the system runs: DATABASE_URL (PostgreSQL: the payments part's schema), or
else payments.db in the data dir of 'ticketing up' (TICKETING_DATA_DIR or
-data-dir, default ./data), opened read-only. It prints a summary and exits
0, or names each problem and exits 1.
`

// errBooks is check's failure when the books do not hold (the problems
// are printed already).
var errBooks = errors.New("the books do not hold")

// check runs `ticketing check`.
func check(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ticketing check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, checkUsage, "\nFlags:\n")
		fs.PrintDefaults()
	}
	cfg, err := parseConfig(fs, args, getenv, modeUp)
	if err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("check takes no arguments, got %q", fs.Args())
	}
	where := "schema payments of " + maskURL(cfg.DatabaseURL)
	if cfg.DatabaseURL == "" {
		where = filepath.Join(cfg.DataDir, "payments.db")
	}
	db, err := sqldb.OpenReadOnly(ctx, sqldb.Config{URL: cfg.DatabaseURL, Path: where, Schema: "payments"})
	if err != nil {
		return fmt.Errorf("check %s: %w (give the data dir of `ticketing up`, TICKETING_DATA_DIR or -data-dir, or DATABASE_URL)", where, err)
	}
	defer db.Close()
	var r payments.Report
	err = db.ReadTx(ctx, func(tx *sql.Tx) error {
		r, err = payments.CheckBooks(ctx, tx)
		return err
	})
	if err != nil {
		return fmt.Errorf("check %s: %w", where, err)
	}
	fmt.Fprintf(stdout, "books of %s\n%s", where, r.Summary())
	if r.OK() {
		fmt.Fprintln(stdout, "OK: the books balance")
		return nil
	}
	fmt.Fprintf(stdout, "%d problems:\n  %s\n", len(r.Problems), strings.Join(r.Problems, "\n  "))
	return errBooks
}
