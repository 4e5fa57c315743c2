-- Why: GET /api/cars?q= searches title, brand, model and description with
-- English stemming and word prefixes. The document is computed by an
-- immutable function so that the GIN index and the query use the very same
-- expression (no stored column, so no table rewrite).

-- migrate:up

SET LOCAL lock_timeout = '5s';

-- Switch-over: 0001-0009 ship with the first release and run once, while the old
-- server is stopped and nothing else reads or writes. Each file is one transaction,
-- so CONCURRENTLY is impossible here and NOT VALID + VALIDATE would hold the same locks.
-- squawk-ignore-file require-concurrent-index-creation

CREATE FUNCTION car_search_document(
    title text, brand text, model text, description text
) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A')
        || setweight(to_tsvector('english'::regconfig, coalesce(brand, '')), 'A')
        || setweight(to_tsvector('english'::regconfig, coalesce(model, '')), 'B')
        || setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'C')
$$;

COMMENT ON FUNCTION car_search_document(text, text, text, text) IS
'Full-text document of a car listing (title and brand weigh most); indexed by cars_search_idx.';

-- Every word of the user's text must match, each as a prefix ("elec" finds "Electric").
CREATE FUNCTION car_search_query(search_text text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_tsquery(
               'english'::regconfig,
               string_agg(quote_literal(word) || ':*', ' & ')
           )
      FROM regexp_split_to_table(lower(search_text), '[^[:alnum:]]+') AS word
     WHERE word <> ''
$$;

COMMENT ON FUNCTION car_search_query(text) IS
'Turns free text into a tsquery where every word must match as a stemmed prefix; NULL when no word.';

CREATE INDEX cars_search_idx ON cars
USING gin (car_search_document(title, brand, model, description));

-- migrate:down

SET LOCAL lock_timeout = '5s';

-- The down section undoes the up section (development rollbacks).
-- squawk-ignore-file require-concurrent-index-deletion, ban-drop-function

DROP INDEX cars_search_idx;
DROP FUNCTION car_search_query(text);
DROP FUNCTION car_search_document(text, text, text, text);
