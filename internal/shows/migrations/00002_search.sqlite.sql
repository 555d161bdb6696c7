-- +goose Up
-- Word search over the folded name and venue (events.search), with FTS5,
-- as tickets does for titles: an external-content index over events kept
-- in step by triggers that fire only when search changes.
CREATE VIRTUAL TABLE events_fts USING fts5(
    search,
    content = 'events',
    content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2'
);

-- +goose StatementBegin
CREATE TRIGGER events_fts_insert AFTER INSERT ON events BEGIN
    INSERT INTO events_fts (rowid, search) VALUES (new.rowid, new.search);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER events_fts_delete AFTER DELETE ON events BEGIN
    INSERT INTO events_fts (events_fts, rowid, search) VALUES ('delete', old.rowid, old.search);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER events_fts_update AFTER UPDATE OF search ON events
WHEN old.search IS NOT new.search BEGIN
    INSERT INTO events_fts (events_fts, rowid, search) VALUES ('delete', old.rowid, old.search);
    INSERT INTO events_fts (rowid, search) VALUES (new.rowid, new.search);
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER events_fts_update;
DROP TRIGGER events_fts_delete;
DROP TRIGGER events_fts_insert;
DROP TABLE events_fts;
