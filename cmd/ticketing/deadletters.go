package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ticketing/ticketing/internal/platform/natsbus"
)

const deadLettersUsage = `Usage:
  ticketing deadletters list [flags]             the messages consumers gave up on, oldest first
  ticketing deadletters replay [flags] ID...|all publish them again on their subject, then delete them
                                                 (never a forged one: all skips them)

It reaches NATS as the other commands do: NATS_URL (with NATS_USER and
NATS_PASSWORD), or the embedded server in the data dir of 'ticketing up',
which must not be running meanwhile (the store is locked).
`

// deadLetters runs `ticketing deadletters list|replay`.
func deadLetters(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprint(stdout, deadLettersUsage)
		return nil
	}
	if len(args) == 0 || (args[0] != "list" && args[0] != "replay") {
		fmt.Fprint(stderr, deadLettersUsage)
		return errors.New("deadletters needs list or replay")
	}
	sub := args[0]
	fs := flag.NewFlagSet("ticketing deadletters "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, deadLettersUsage, "\nFlags:\n")
		fs.PrintDefaults()
	}
	// modeUp: no JWT_KEY is needed to read the bus.
	cfg, err := parseConfig(fs, args[1:], getenv, modeUp)
	if err != nil {
		return err
	}
	ids, all, err := replayIDs(sub, fs.Args())
	if err != nil {
		return err
	}
	log, err := newLogger(stderr, Config{LogLevel: "warn", LogFormat: cfg.LogFormat})
	if err != nil {
		return err
	}
	// Connect as is: the streams are the parts' to make sure of, with the
	// deployment's settings (NATS_STREAM_REPLICAS), not this command's.
	bus, err := natsbus.Connect(ctx, natsbus.Config{
		URL:      cfg.NATSURL,
		DataDir:  cfg.DataDir,
		Name:     "ticketing deadletters",
		User:     cfg.NATSUser,
		Password: cfg.NATSPassword,
		CAFile:   cfg.NATSCAFile,
		Existing: true,
	}, log)
	if errors.Is(err, natsbus.ErrStoreInUse) {
		return fmt.Errorf("%w: stop `ticketing up` on %s first, run this, then start it again", err, cfg.DataDir)
	}
	if err != nil {
		return err
	}
	defer bus.Close()
	list, err := bus.DeadLetters(ctx)
	if err != nil {
		return err
	}
	if sub == "list" {
		printDeadLetters(stdout, list)
		return nil
	}
	if all {
		for _, d := range list {
			if d.Forged {
				fmt.Fprintf(stdout, "skipped %d: forged, never replayed\n", d.ID)
				continue
			}
			ids = append(ids, d.ID)
		}
	}
	for _, id := range ids {
		d, err := bus.ReplayDeadLetter(ctx, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "replayed %d: %s from %s\n", id, d.Subject, d.Consumer)
	}
	return nil
}

// replayIDs reads the arguments of replay: dead letter ids, or all.
func replayIDs(sub string, args []string) (ids []uint64, all bool, err error) {
	if sub == "list" {
		if len(args) > 0 {
			return nil, false, fmt.Errorf("deadletters list takes no arguments, got %q", args)
		}
		return nil, false, nil
	}
	if len(args) == 0 {
		return nil, false, errors.New("deadletters replay needs dead letter ids (from deadletters list) or all")
	}
	if len(args) == 1 && args[0] == "all" {
		return nil, true, nil
	}
	for _, a := range args {
		id, err := strconv.ParseUint(a, 10, 64)
		if err != nil || id == 0 {
			return nil, false, fmt.Errorf("deadletters replay: %q is not a dead letter id (a number from deadletters list)", a)
		}
		ids = append(ids, id)
	}
	return ids, false, nil
}

// printDeadLetters writes one block per dead letter: what an operator
// needs to decide whether to replay it.
func printDeadLetters(w io.Writer, list []natsbus.DeadLetter) {
	if len(list) == 0 {
		fmt.Fprintln(w, "no dead letters")
		return
	}
	for _, d := range list {
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\tdeliveries=%d\n", d.ID, d.At.UTC().Format(time.RFC3339), d.Consumer, d.Subject, d.Deliveries)
		fmt.Fprintf(w, "\terror: %s\n", printable(d.Error))
		if d.Forged {
			fmt.Fprintln(w, "\tforged: fired by a schedule not allowed to; replay refuses it")
		}
		if d.Stream != "" {
			fmt.Fprintf(w, "\toriginal: %s #%d, msg id %s\n", d.Stream, d.StreamSeq, d.MsgID)
		}
		fmt.Fprintf(w, "\tpayload: %s\n", printable(string(d.Data)))
	}
}

// printable is s as it is when it holds only printable text, quoted
// otherwise: a payload is anyone's bytes, and must not drive the
// operator's terminal.
func printable(s string) string {
	if utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return s
	}
	return strconv.Quote(s)
}
