"""`cms outbox-worker`: deliver queued notifications to Telegram."""

from __future__ import annotations

import click

from cms.cli.common import settings as current_settings
from cms.logging_setup import configure_logging
from cms.services import outbox


@click.command("outbox-worker")
@click.option("--once", is_flag=True, help="Stop when nothing is due instead of waiting for more.")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between polls when idle.")
@click.option("--batch", default=10, show_default=True, help="Notifications claimed per transaction.")
def outbox_worker(once: bool, interval: float, batch: int) -> None:
    """Send pending notifications (several workers may run at once)."""
    settings = current_settings()
    configure_logging(settings.log_level)
    if not settings.database_url:
        raise click.ClickException("DATABASE_URL is not set")
    client = outbox.client_from_settings(settings)
    if client is None:
        raise click.ClickException("Telegram sending is disabled; nothing to do (see TELEGRAM_* settings)")
    outbox.run_worker(settings.database_url, client, interval=interval, batch=batch, once=once,
                      settings=settings)
