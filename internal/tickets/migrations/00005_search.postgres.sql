-- +goose Up
-- Word search over the folded titles (title_search, folded in Go: see
-- search.go): a GIN index over their 'simple' text-search vector (no
-- stemming, no stop words, no extension needed). It is an expression
-- index, so no column is stored twice, and partial like the list, so a
-- reserved ticket leaves it and a reservation writes nothing to it.
CREATE INDEX tickets_search ON tickets USING GIN (to_tsvector('simple', title_search))
    WHERE order_id IS NULL;

-- Titles written before this migration hold only lower(title). Fold them
-- as near to the Go fold as SQL can without the unaccent extension: the
-- common Latin accents, punctuation to spaces. A later edit folds exactly.
UPDATE tickets SET title_search = btrim(regexp_replace(
    translate(lower(title),
        'àáâãäåāăąçćčďèéêëēėęěìíîïīįñńňòóôõöōőŕřśšşťùúûüūůűųýÿźżž',
        'aaaaaaaaacccdeeeeeeeeiiiiiinnnooooooorrssstuuuuuuuuyyzzz'),
    '[^[:alnum:]]+', ' ', 'g'));

-- The list sorted by price, either way (an index scans both directions).
CREATE INDEX tickets_on_sale_price ON tickets (price, id) WHERE order_id IS NULL;

-- +goose Down
DROP INDEX tickets_on_sale_price;
DROP INDEX tickets_search;
