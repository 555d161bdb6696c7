-- +goose Up
-- Word search over the folded name and venue (events.search): its
-- 'simple' text-search vector (no stemming, no stop words, no extension),
-- stored and indexed with GIN, partial like the list.
ALTER TABLE events ADD COLUMN search_tsv tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', search)) STORED;
CREATE INDEX events_search ON events USING GIN (search_tsv) WHERE status = 'scheduled';

-- +goose Down
DROP INDEX events_search;
ALTER TABLE events DROP COLUMN search_tsv;
