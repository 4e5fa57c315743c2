"""Operations on a whole database, run from the `cms` command (cms/cli/) and the benchmark.

- `backup`: pg_dump / pg_restore backups and restores.
- `demo_data`: set-based demo data at marketplace scale.
- `schema_docs`: docs/schema.md and docs/queries.md, rendered from the catalog and sql/queries.

They talk to PostgreSQL through cms.db (`db.connect()`), never through the request pool.
"""
