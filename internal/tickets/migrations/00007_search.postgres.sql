-- +goose Up
-- Titles written before this migration hold only lower(title) in
-- title_search. Fold them as near to the Go fold (search.go) as SQL can
-- without the unaccent extension: the common Latin accents, punctuation to
-- spaces. A later edit folds exactly.
UPDATE tickets SET title_search = btrim(regexp_replace(
    translate(lower(title),
        'àáâãäåāăąçćčďèéêëēėęěìíîïīįñńňòóôõöōőŕřśšşťùúûüūůűųýÿźżž',
        'aaaaaaaaacccdeeeeeeeeiiiiiinnnooooooorrssstuuuuuuuuyyzzz'),
    '[^[:alnum:]]+', ' ', 'g'));

-- Word search over the folded titles: their 'simple' text-search vector
-- (no stemming, no stop words, no extension needed), stored, so a search
-- that walks the list in order tests each row without re-parsing its
-- title, and indexed with GIN for searches that match few tickets. The
-- index is partial like the list: a reserved ticket leaves it.
ALTER TABLE tickets ADD COLUMN title_tsv tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', title_search)) STORED;
CREATE INDEX tickets_search ON tickets USING GIN (title_tsv) WHERE order_id IS NULL;

-- The list sorted by price, either way (an index scans both directions).
CREATE INDEX tickets_on_sale_price ON tickets (price, id) WHERE order_id IS NULL;

-- +goose Down
DROP INDEX tickets_on_sale_price;
DROP INDEX tickets_search;
ALTER TABLE tickets DROP COLUMN title_tsv;
