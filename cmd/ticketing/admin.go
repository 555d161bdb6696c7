package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ticketing/ticketing/internal/auth"
	"github.com/ticketing/ticketing/internal/platform/outbox"
	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

const adminUsage = `Usage:
  ticketing admin organizer grant [flags] EMAIL   make the account an organizer: its next
                                                  sign-in gets a session that says so
  ticketing admin organizer revoke [flags] EMAIL  make it an ordinary account again and
                                                  sign it out everywhere

It changes auth's database where the system keeps it, and works while the
system runs: DATABASE_URL (PostgreSQL: the auth part's, as 'ticketing serve
auth' reads it), or else auth.db in the data dir of 'ticketing up'
(TICKETING_DATA_DIR or -data-dir, default ./data).
`

// admin runs `ticketing admin organizer grant|revoke EMAIL`.
func admin(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprint(stdout, adminUsage)
		return nil
	}
	if len(args) < 2 || args[0] != "organizer" || (args[1] != "grant" && args[1] != "revoke") {
		fmt.Fprint(stderr, adminUsage)
		return errors.New("admin needs organizer grant EMAIL or organizer revoke EMAIL")
	}
	verb := args[1]
	fs := flag.NewFlagSet("ticketing admin organizer "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, adminUsage, "\nFlags:\n")
		fs.PrintDefaults()
	}
	// modeUp: no JWT_KEY is needed to change an account.
	cfg, err := parseConfig(fs, args[2:], getenv, modeUp)
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("admin organizer %s takes one email (flags before it), got %q", verb, fs.Args())
	}
	log, err := newLogger(stderr, Config{LogLevel: "warn", LogFormat: cfg.LogFormat})
	if err != nil {
		return err
	}
	db, where, err := openAuthDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	// The outbox only takes the events in: the running auth part's relay
	// publishes them (when the system is stopped, as it starts).
	orgs := auth.NewOrganizers(db, outbox.New(db, nil, log, outbox.Config{}), nil)
	change := orgs.Grant
	if verb == "revoke" {
		change = orgs.Revoke
	}
	c, err := change(ctx, fs.Arg(0))
	if err != nil {
		return fmt.Errorf("admin organizer %s: %w (in %s)", verb, err, where)
	}
	switch {
	case verb == "grant" && c.Changed:
		fmt.Fprintf(stdout, "%s is now an organizer, from their next sign-in\n", c.Email)
	case verb == "grant":
		fmt.Fprintf(stdout, "%s was already an organizer: nothing changed\n", c.Email)
	case c.Changed:
		fmt.Fprintf(stdout, "%s is no longer an organizer, and every session of theirs is signed out\n", c.Email)
	default:
		fmt.Fprintf(stdout, "%s was not an organizer: nothing changed\n", c.Email)
	}
	return nil
}

// openAuthDB opens auth's database as the auth part does, and says where
// it is. A SQLite file must exist already: a data dir without one is not
// the one `up` uses, and an empty database made there would only hide the
// mistake.
func openAuthDB(ctx context.Context, cfg Config) (*sqldb.DB, string, error) {
	where := "schema auth of " + maskURL(cfg.DatabaseURL)
	if cfg.DatabaseURL == "" {
		where = filepath.Join(cfg.DataDir, "auth.db")
		if _, err := os.Stat(where); errors.Is(err, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("no auth database at %s: give the data dir of `ticketing up` (TICKETING_DATA_DIR or -data-dir), or DATABASE_URL for `serve`", where)
		}
	}
	db, err := infra{cfg: cfg}.openDB(ctx, "auth", outbox.Migrations, auth.Migrations)
	if err != nil {
		return nil, "", err
	}
	return db, where, nil
}
