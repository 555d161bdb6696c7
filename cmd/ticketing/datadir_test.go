//go:build unix

package main

import (
	"bytes"
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestUpDataDirIsOwnerOnly runs `up` under the usual umask 022 and checks,
// after it wrote data, that nothing in the data dir is readable by other
// users: directories 0700, files 0600 (the SQLite files with their WAL and
// shared-memory index, jwt.key, the NATS store). Then it loosens the files
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
			if err != nil {
				return err
			}
			fi, err := d.Info()
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
		for _, name := range []string{".", "jwt.key", "nats", "auth.db", "auth.db-wal", "auth.db-shm", "tickets.db", "orders.db", "payments.db"} {
			if !seen[name] {
				t.Errorf("%s: %s is missing from the data dir", when, name)
			}
		}
	}
	check("after the first start")

	if err := app.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"jwt.key", "auth.db", "tickets.db", "orders.db", "payments.db"} {
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
