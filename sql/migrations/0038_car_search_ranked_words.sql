-- Why: sort=relevance orders every match of q by ts_rank of cars.search_document.
-- For a query of one word (one prefix) a match ranks lowest, all at the same rank,
-- when exactly one of its words starts with the prefix and occurs once, in the
-- description (weight C): then ts_rank is 0.2 / 1.6449 (tsrank.c, calc_rank_or).
-- Any other match ranks higher: that word is also in the title, brand or model
-- (weight A or B), or occurs twice or more, or a second word starts with the
-- prefix too. car_search_ranked_words() keeps what tells those apart: the words of
-- weight A or B or with two positions or more, and, for every two neighbouring
-- words in byte order, the start they share (two words start with a prefix only if
-- two neighbours do, so the prefix starts their shared start). A prefix query
-- matches these entries exactly when the match ranks above the lowest rank, so
-- the best matches are found through an index on them (0039). The rest, all ranked
-- alike, follow newest id first; their one matching word is among the words said
-- in the description only (car_search_description_words, indexed by 0040), through
-- which the older ones are found when the newest hold too few (a brand's name, say,
-- is seldom one of them).
-- Written as it stands for documents weighted A, B and C; a change of weights in
-- search_document must be checked against it.

-- migrate:up

SET LOCAL lock_timeout = '5s';

CREATE FUNCTION car_search_ranked_words(document tsvector) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT array_to_tsvector(coalesce(array_agg(DISTINCT entry.word), '{}'))
    FROM (
        -- Words that rank a match above the lowest rank on their own.
        SELECT word.lexeme AS word
        FROM unnest(document) AS word
        WHERE cardinality(word.positions) > 1 OR word.weights <> '{C}'
        UNION ALL
        -- The start each word shares with the word before it (byte order), if any.
        SELECT left(pair.lexeme, (
            SELECT count(*)::integer
            FROM generate_series(1, least(length(pair.lexeme), length(pair.previous))) AS n
            WHERE left(pair.lexeme, n) = left(pair.previous, n)
        ))
        FROM (
            SELECT
                word.lexeme,
                lag(word.lexeme) OVER (ORDER BY word.lexeme COLLATE "C") AS previous
            FROM unnest(document) AS word
        ) AS pair
        WHERE left(pair.lexeme, 1) = left(pair.previous, 1)
    ) AS entry
$$;

-- One expression of built-in functions, so PostgreSQL inlines it (about 1 µs a document).
CREATE FUNCTION car_search_description_words(document tsvector) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT ts_delete(ts_filter(document, '{c}'), tsvector_to_array(ts_filter(document, '{a,b}')))
$$;

CREATE FUNCTION car_search_lowest_rank() RETURNS real
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ts_rank('word:1C'::tsvector, 'word'::tsquery)
$$;

COMMENT ON FUNCTION car_search_lowest_rank() IS
'ts_rank of a match whose one matching word occurs once, in the description: the lowest rank of a match.';

COMMENT ON FUNCTION car_search_description_words(tsvector) IS
'Words of a search document said in the description only; indexed by cars_search_description_words_idx.';

COMMENT ON FUNCTION car_search_ranked_words(tsvector) IS
'What a one-word query matches when a document ranks above the lowest rank; cars_search_ranked_words_idx.';

-- migrate:down

SET LOCAL lock_timeout = '5s';

-- The down section undoes the up section (development rollbacks).
-- squawk-ignore-file ban-drop-function

DROP FUNCTION car_search_lowest_rank();
DROP FUNCTION car_search_description_words(tsvector);
DROP FUNCTION car_search_ranked_words(tsvector);
