// Command ticketing runs the Ticketing marketplace: `ticketing up` runs the
// whole system in one process with no setup; `ticketing serve PART` runs one
// part against external NATS and PostgreSQL, for real deployments.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
)

const usage = `ticketing — a marketplace for reselling event tickets

Usage:
  ticketing up [flags]            the whole system in one process: embedded NATS,
                                  SQLite files in the data dir, every service behind
                                  the gateway at http://localhost:8080
  ticketing serve PART [flags]    one part per process, for deployments: PART is one of
                                  %s;
                                  needs NATS_URL, DATABASE_URL and JWT_KEY
  ticketing deadletters list|replay [ID...|all]
                                  the messages consumers gave up on: list them, or
                                  publish them again once the cause is fixed
  ticketing admin organizer grant|revoke EMAIL
                                  make an account an organizer (from its next sign-in),
                                  or an ordinary one again; works while the system runs
  ticketing check [flags]         verify the books (the ledger balances, every paid
                                  order is charged once); read-only, works while the
                                  system runs
  ticketing version               print the build version

Every flag is also an environment variable (shown in brackets); a flag wins.
Run 'ticketing up -h' to list them.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp): // -h printed the flags: asked for, not a failure
	case err != nil:
		fmt.Fprintln(os.Stderr, "ticketing:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintf(stderr, usage, partList())
		return errors.New("missing command")
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "-h", "-help", "--help", "help":
		fmt.Fprintf(stdout, usage, partList())
		return nil
	case "version":
		fmt.Fprintln(stdout, version())
		return nil
	case "deadletters":
		return deadLetters(ctx, args, getenv, stdout, stderr)
	case "admin":
		return admin(ctx, args, getenv, stdout, stderr)
	case "check":
		return check(ctx, args, getenv, stdout, stderr)
	case "up":
		cfg, log, err := setup("up", args, getenv, stderr, modeUp)
		if err != nil {
			return err
		}
		app, err := Up(ctx, cfg, log)
		if err != nil {
			return err
		}
		releaseStartup()
		return app.Wait(ctx)
	case "serve":
		if len(args) == 0 || args[0] == "" || args[0][0] == '-' {
			return fmt.Errorf("serve needs a part: one of %s", partList())
		}
		name := args[0]
		cfg, log, err := setup("serve "+name, args[1:], getenv, stderr, modeServe)
		if err != nil {
			return err
		}
		app, err := Serve(ctx, name, cfg, log)
		if err != nil {
			return err
		}
		// The process's memory settings belong here, once the part serves,
		// not in Serve: tests run many parts in one process (and this
		// function with configurations that fail), and auth's limit
		// would bind them all.
		limitMemory(name, log)
		releaseStartup()
		go returnFreeMemory(ctx)
		return app.Wait(ctx)
	}
	fmt.Fprintf(stderr, usage, partList())
	return fmt.Errorf("unknown command %q", cmd)
}

func setup(name string, args []string, getenv func(string) string, stderr io.Writer, m mode) (Config, *slog.Logger, error) {
	fs := flag.NewFlagSet("ticketing "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg, err := parseConfig(fs, args, getenv, m)
	if err != nil {
		return cfg, nil, err
	}
	log, err := newLogger(stderr, cfg)
	return cfg, log, err
}

func partList() string { return strings.Join(partNames(), ", ") }

// version is the module version and VCS revision the binary was built from.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "ticketing (unknown build)"
	}
	v := "ticketing " + info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			v += " " + s.Value
		}
	}
	return v + " " + info.GoVersion
}
