"""The `cms` command (entry point `cms.cli:main`): one module per command group.

- `db`: migrations (dbmate) and seed.sql: `cms db up|status|rollback|seed`
- `serve`: `cms serve`, the development server (`make run`)
- `admin`: `cms create-admin`
- `backup`: `cms backup`, `cms restore`
- `demo_data`: `cms demo-data`
- `docs`: `cms docs schema|queries`
- `outbox`: `cms outbox-worker`

Every database connection they open comes from cms.db (`db.connect()`, dbmate, psql).
"""

from __future__ import annotations

import click

from cms.cli import admin, backup, demo_data, docs, outbox, serve
from cms.cli import db as db_commands


@click.group()
def main() -> None:
    """CMS car marketplace service."""


for _command in (
    db_commands.db_group, serve.serve, admin.create_admin, backup.backup, backup.restore,
    demo_data.demo_data, docs.docs, outbox.outbox_worker,
):
    main.add_command(_command)
