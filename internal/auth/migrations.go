package auth

import (
	"embed"
	"io/fs"

	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations creates the users table; pass it to sqldb.Open.
var Migrations = sqldb.Migrations{Name: "auth", FS: mustSub(migrationFiles, "migrations")}

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return sub
}
