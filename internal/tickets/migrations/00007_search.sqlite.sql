-- +goose Up
-- Word search over the folded titles (title_search, folded in Go: see
-- search.go), with FTS5, which modernc.org/sqlite builds in. The index is
-- an external-content table over tickets: it keeps only the index and
-- reads nothing back, as a search asks only for rowids. Triggers keep it in
-- step with every write, in the writer's transaction; they fire only when
-- title_search changes, so a reservation (which rewrites the row with the
-- same title) costs the index nothing. If it is ever out of step (a file
-- restored from elsewhere), INSERT INTO tickets_fts(tickets_fts)
-- VALUES('rebuild') rebuilds it from tickets.
--
-- remove_diacritics 2 matters only for titles written before this
-- migration, whose title_search is merely lower-cased: the tokenizer folds
-- their accents, so "cafe" finds "Café" there too.
CREATE VIRTUAL TABLE tickets_fts USING fts5(
    title_search,
    content = 'tickets',
    content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO tickets_fts(tickets_fts) VALUES ('rebuild');

-- +goose StatementBegin
CREATE TRIGGER tickets_fts_insert AFTER INSERT ON tickets BEGIN
    INSERT INTO tickets_fts (rowid, title_search) VALUES (new.rowid, new.title_search);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER tickets_fts_delete AFTER DELETE ON tickets BEGIN
    INSERT INTO tickets_fts (tickets_fts, rowid, title_search) VALUES ('delete', old.rowid, old.title_search);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER tickets_fts_update AFTER UPDATE OF title_search ON tickets
WHEN old.title_search IS NOT new.title_search BEGIN
    INSERT INTO tickets_fts (tickets_fts, rowid, title_search) VALUES ('delete', old.rowid, old.title_search);
    INSERT INTO tickets_fts (rowid, title_search) VALUES (new.rowid, new.title_search);
END;
-- +goose StatementEnd

-- The list sorted by price, either way (an index scans both directions).
CREATE INDEX tickets_on_sale_price ON tickets (price, id) WHERE order_id IS NULL;

-- +goose Down
DROP INDEX tickets_on_sale_price;
DROP TRIGGER tickets_fts_update;
DROP TRIGGER tickets_fts_delete;
DROP TRIGGER tickets_fts_insert;
DROP TABLE tickets_fts;
