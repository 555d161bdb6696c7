//go:build unix

package sqldb_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

// TestSQLiteFilesAreOwnerOnly: the database, its WAL and its shared-memory
// index are created 0600 in a 0700 directory under the usual umask 022
// (SQLite alone would make them 0644), and files an older version left
// 0644 are tightened when opened again.
func TestSQLiteFilesAreOwnerOnly(t *testing.T) {
	old := syscall.Umask(0o022) // process-wide: this test does not run in parallel
	t.Cleanup(func() { syscall.Umask(old) })
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "auth.db")
	open := func() *sqldb.DB {
		t.Helper()
		db, err := sqldb.Open(context.Background(), sqldb.Config{Path: path, Migrations: []sqldb.Migrations{items}})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	wantMode := func(p string, want os.FileMode) {
		t.Helper()
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s has mode %#o, want %#o", filepath.Base(p), got, want)
		}
	}

	db := open()
	insert(t, db, "a", "apple") // the WAL and the index exist while open
	wantMode(dir, 0o700)
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		wantMode(p, 0o600)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// An older version's files, readable by everyone.
	for _, p := range []string{path, path + "-wal"} {
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db = open()
	defer db.Close()
	if n := count(t, db); n != 1 {
		t.Fatalf("reopened database holds %d rows, want 1", n)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		wantMode(p, 0o600)
	}
}
