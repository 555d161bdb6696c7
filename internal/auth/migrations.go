package auth

import (
	"embed"

	"github.com/ticketing/ticketing/internal/platform/sqldb"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations creates the users (with their organizer flag) and revocations
// tables; pass it to sqldb.Open beside outbox.Migrations.
var Migrations = sqldb.EmbeddedMigrations("auth", migrationFiles)
