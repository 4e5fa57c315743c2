-- name: schema_docs_tables
-- Every ordinary and partitioned table of the public schema with its comment
-- (NULL when none), by name; many rows. Used by: cms docs schema.
SELECT
    c.relname AS table_name,
    obj_description(c.oid, 'pg_class') AS comment
FROM pg_class AS c
INNER JOIN pg_namespace AS n ON c.relnamespace = n.oid
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
ORDER BY c.relname;

-- name: schema_docs_columns
-- Every column of the public tables in table order: type as format_type
-- prints it, NOT NULL flag, default expression and comment; many rows.
-- Used by: cms docs schema.
SELECT
    c.relname AS table_name,
    a.attname AS column_name,
    format_type(a.atttypid, a.atttypmod) AS data_type,
    a.attnotnull AS not_null,
    pg_get_expr(d.adbin, d.adrelid) AS default_value,
    col_description(c.oid, a.attnum) AS comment
FROM pg_attribute AS a
INNER JOIN pg_class AS c ON a.attrelid = c.oid
INNER JOIN pg_namespace AS n ON c.relnamespace = n.oid
LEFT JOIN pg_attrdef AS d ON a.attrelid = d.adrelid AND a.attnum = d.adnum
WHERE
    n.nspname = 'public'
    AND c.relkind IN ('r', 'p')
    AND a.attnum > 0
    AND NOT a.attisdropped
ORDER BY c.relname, a.attnum;

-- name: schema_docs_constraints
-- Primary key, unique, foreign key, check and exclusion constraints of the
-- public tables, with their definition; by table, kind, name. NOT NULL is
-- shown per column instead. Used by: cms docs schema.
SELECT
    c.relname AS table_name,
    con.conname AS constraint_name,
    con.contype AS kind,
    pg_get_constraintdef(con.oid) AS definition
FROM pg_constraint AS con
INNER JOIN pg_class AS c ON con.conrelid = c.oid
INNER JOIN pg_namespace AS n ON c.relnamespace = n.oid
WHERE n.nspname = 'public' AND con.contype IN ('p', 'u', 'f', 'c', 'x')
ORDER BY
    c.relname,
    array_position(ARRAY['p', 'u', 'f', 'c', 'x'], con.contype::text),
    con.conname;

-- name: schema_docs_foreign_keys
-- One row per foreign key of the public tables: referencing and referenced
-- table and columns, delete rule (a, r, c, n or d as in pg_constraint),
-- whether every referencing column is NOT NULL and whether they are unique
-- (a primary key or unique index on exactly them); by table and name.
-- Used by: cms docs schema (ER diagram).
SELECT
    child.relname AS table_name,
    con.conname AS constraint_name,
    parent.relname AS referenced_table,
    con.confdeltype AS on_delete,
    (
        SELECT array_agg(a.attname ORDER BY k.position)
        FROM unnest(con.conkey) WITH ORDINALITY AS k (attnum, position)
        INNER JOIN pg_attribute AS a ON a.attrelid = con.conrelid AND k.attnum = a.attnum
    ) AS columns,
    (
        SELECT bool_and(a.attnotnull)
        FROM unnest(con.conkey) AS k (attnum)
        INNER JOIN pg_attribute AS a ON a.attrelid = con.conrelid AND k.attnum = a.attnum
    ) AS not_null,
    exists(
        SELECT 1
        FROM pg_index AS i
        WHERE
            i.indrelid = con.conrelid
            AND i.indisunique
            AND i.indpred IS NULL
            AND i.indexprs IS NULL
            AND (
                SELECT array_agg(x.attnum ORDER BY x.attnum)
                FROM unnest(i.indkey::smallint[]) AS x (attnum)
            ) = (
                SELECT array_agg(y.attnum ORDER BY y.attnum)
                FROM unnest(con.conkey) AS y (attnum)
            )
    ) AS is_unique
FROM pg_constraint AS con
INNER JOIN pg_class AS child ON con.conrelid = child.oid
INNER JOIN pg_class AS parent ON con.confrelid = parent.oid
INNER JOIN pg_namespace AS n ON child.relnamespace = n.oid
WHERE n.nspname = 'public' AND con.contype = 'f'
ORDER BY child.relname, con.conname;

-- name: schema_docs_indexes
-- Every index of the public tables with its definition as pg_get_indexdef
-- prints it; by table and index name. Used by: cms docs schema.
SELECT
    t.relname AS table_name,
    ic.relname AS index_name,
    pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index AS i
INNER JOIN pg_class AS t ON i.indrelid = t.oid
INNER JOIN pg_class AS ic ON i.indexrelid = ic.oid
INNER JOIN pg_namespace AS n ON t.relnamespace = n.oid
WHERE n.nspname = 'public' AND t.relkind IN ('r', 'p')
ORDER BY t.relname, ic.relname;

-- name: schema_docs_triggers
-- User-defined triggers of the public tables with their definition; by
-- table and trigger name. Used by: cms docs schema.
SELECT
    c.relname AS table_name,
    tg.tgname AS trigger_name,
    pg_get_triggerdef(tg.oid) AS definition
FROM pg_trigger AS tg
INNER JOIN pg_class AS c ON tg.tgrelid = c.oid
INNER JOIN pg_namespace AS n ON c.relnamespace = n.oid
WHERE n.nspname = 'public' AND NOT tg.tgisinternal
ORDER BY c.relname, tg.tgname;

-- name: schema_docs_functions
-- Functions of the public schema that no extension owns: signature, result
-- type, language and comment; many rows, unordered (the caller sorts).
-- Used by: cms docs schema.
SELECT
    p.oid::regprocedure::text AS signature,
    pg_get_function_result(p.oid) AS result_type,
    l.lanname AS language,
    obj_description(p.oid, 'pg_proc') AS comment
FROM pg_proc AS p
INNER JOIN pg_namespace AS n ON p.pronamespace = n.oid
INNER JOIN pg_language AS l ON p.prolang = l.oid
WHERE
    n.nspname = 'public'
    AND NOT EXISTS (
        SELECT 1
        FROM pg_depend AS dep
        WHERE dep.classid = 'pg_proc'::regclass AND dep.objid = p.oid AND dep.deptype = 'e'
    );
