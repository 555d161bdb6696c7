package auth

import (
	"embed"

	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations creates the users table; pass it to sqldb.Open.
var Migrations = sqldb.EmbeddedMigrations("auth", migrationFiles)
