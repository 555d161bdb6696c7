//go:build unix

package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/ticketing/ticketing/internal/platform/entrycode"
)

// TestUpDataDirIsOwnerOnly runs `up` under the usual umask 022 and checks,
// after it wrote data, that nothing in the data dir is readable by other
// users: directories 0700, files 0600 (the SQLite files with their WAL and
// shared-memory index, jwt.key, ticket-signing.key, the NATS store, the
// sandbox provider's journal). Then it loosens the files
// as an older version left them, and a restart tightens them again.
func TestUpDataDirIsOwnerOnly(t *testing.T) {
	old := syscall.Umask(0o022) // process-wide: this test does not run in parallel
	t.Cleanup(func() { syscall.Umask(old) })
	dir := filepath.Join(t.TempDir(), "data")
	base, app := startUp(t, dir, nil)
	seller := signUp(t, base, "seller@example.com")
	if got := seller.do("POST", "/api/tickets", map[string]any{"title": "Gig", "price": 10}, nil); got != http.StatusCreated {
		t.Fatalf("sell = %d", got)
	}

	check := func(when string) {
		t.Helper()
		seen := map[string]bool{}
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			var fi fs.FileInfo
			if err == nil {
				fi, err = d.Info()
			}
			// The running NATS server writes a consumer's state to a
			// temporary file and renames it over the old one: a file
			// listed a moment ago may be gone.
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			seen[rel] = true
			want := os.FileMode(0o600)
			if d.IsDir() {
				want = 0o700
			}
			if got := fi.Mode().Perm(); got != want {
				t.Errorf("%s: %s has mode %#o, want %#o", when, rel, got, want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{".", "jwt.key", "ticket-signing.key", "nats", "auth.db", "auth.db-wal", "auth.db-shm", "tickets.db", "orders.db", "payments.db", sandboxJournalFile} {
			if !seen[name] {
				t.Errorf("%s: %s is missing from the data dir", when, name)
			}
		}
	}
	check("after the first start")
	signingKey, err := os.ReadFile(filepath.Join(dir, "ticket-signing.key"))
	if err != nil {
		t.Fatal(err)
	}

	if err := app.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"jwt.key", "ticket-signing.key", "auth.db", "tickets.db", "orders.db", "payments.db", sandboxJournalFile} {
		if err := os.Chmod(filepath.Join(dir, name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	base, _ = startUp(t, dir, nil)
	var cu currentUser
	seller.base = base
	seller.do("GET", "/api/users/currentuser", nil, &cu)
	if cu.CurrentUser == nil {
		t.Fatal("the session did not survive the restart: the key changed")
	}
	check("after a restart on loosened files")
	if again, err := os.ReadFile(filepath.Join(dir, "ticket-signing.key")); err != nil || !bytes.Equal(again, signingKey) {
		t.Fatalf("ticket-signing.key changed on a restart: %v", err)
	}
}

// TestLocalTicketSigningKey: `up` generates the entry-code signing key once
// into the data dir, owner-only, and keeps it; starts racing for it agree;
// a damaged key file is refused, never replaced (a new key would turn away
// every code issued).
func TestLocalTicketSigningKey(t *testing.T) {
	old := syscall.Umask(0o022) // process-wide: this test does not run in parallel
	t.Cleanup(func() { syscall.Umask(old) })
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "ticket-signing.key")

	// Eight starts at once on a new data dir: one key, written once.
	keys := make([]ed25519.PrivateKey, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			k, err := localTicketSigningKey(dir)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		})
	}
	wg.Wait()
	key := keys[0]
	for _, k := range keys {
		if !k.Equal(key) || len(k) != ed25519.PrivateKeySize {
			t.Fatalf("concurrent starts got different keys")
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != entrycode.EncodeKey(key)+"\n" {
		t.Fatalf("ticket-signing.key holds %q, want the key's base64 seed and a newline", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("ticket-signing.key has mode %#o, want 0600", fi.Mode().Perm())
	}

	// A restart reads it back, and makes a loosened file owner-only.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if k, err := localTicketSigningKey(dir); err != nil || !k.Equal(key) {
		t.Fatalf("second start: %v, same key %v", err, k.Equal(key))
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("loosened ticket-signing.key left at %#o", fi.Mode().Perm())
	}

	// A damaged file stops the start and stays as it is.
	if err := os.WriteFile(path, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := localTicketSigningKey(dir); err == nil || !strings.Contains(err.Error(), "restore it from a backup") {
		t.Fatalf("damaged key file: err = %v, want it refused with advice", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "not a key\n" {
		t.Fatalf("damaged key file was replaced by %q", b)
	}

	// Something there that cannot be read is an error, not a new key.
	dir2 := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir2, "ticket-signing.key"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := localTicketSigningKey(dir2); err == nil {
		t.Fatal("a directory named ticket-signing.key was accepted")
	}
}

// TestPrepareDataDir: a new data dir is created 0700; an existing one that
// others can read is kept as the operator made it, with a warning.
func TestPrepareDataDir(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))

	fresh := filepath.Join(t.TempDir(), "a", "data")
	if err := prepareDataDir(fresh, log); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(fresh); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("new data dir: %v, %v; want mode 0700", fi.Mode(), err)
	}
	if logs.Len() != 0 {
		t.Fatalf("warned about a fresh data dir: %s", logs.String())
	}

	shared := t.TempDir()
	if err := os.Chmod(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := prepareDataDir(shared, log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "mode=0755") {
		t.Fatalf("no warning for a data dir others can list: %q", logs.String())
	}

	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if err := prepareDataDir(file, log); err == nil {
		t.Fatal("a file was accepted as the data dir")
	}
}
