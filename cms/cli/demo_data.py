"""`cms demo-data`: fill DATABASE_URL with realistic listings at marketplace scale (see cms/operations/demo_data.py)."""

from __future__ import annotations

import sys
import time

import click

from cms.cli.common import session_database_url
from cms.db import redact
from cms.operations.demo_data import DEMO_PASSWORD, DemoDataError, DemoPlan, generate

PHASE_LABELS = {"cars": "cars and their rows", "favorites": "favorites (buyers)"}


@click.command("demo-data")
@click.option("--cars", "cars", type=click.IntRange(min=0), default=10_000, show_default=True,
              help="Number of listings to add.")
@click.option("--seed", type=int, default=1, show_default=True,
              help="Same seed, same listings (whatever the batch size or number of jobs).")
@click.option("--jobs", type=click.IntRange(min=1, max=16), default=2, show_default=True,
              help="Connections filling batches at the same time (about one per CPU core).")
@click.option("--batch-size", type=click.IntRange(min=100), default=20_000, show_default=True,
              help="Cars per transaction.")
@click.option("--password", default=DEMO_PASSWORD, show_default=True,
              help="Password of every demo account (hashed once, bcrypt cost 10).")
@click.option("--database-url", default=None,
              help="Database to fill (default: DATABASE_DIRECT_URL, else DATABASE_URL).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def demo_data(cars: int, seed: int, jobs: int, batch_size: int, password: str, database_url: str | None,
              yes: bool) -> None:
    """Add CARS demo listings with sellers, buyers, images, reviews, orders, inquiries and favorites.

    Set-based SQL (generate_series) in batches; 1,000,000 cars take a few minutes on 2 cores.
    Demo accounts: demo.admin@example.com, demo.seller<k>@example.com, demo.buyer<k>@example.com.
    """
    url = database_url or session_database_url("cms demo-data (temporary tables)")
    plan = DemoPlan(cars=cars, seed=seed, jobs=jobs, batch_size=batch_size, password=password)
    if not yes:
        # the accounts share one known password: never by accident on a real database
        click.confirm(f"Add {plan.sellers + plan.buyers + 1:,} demo accounts sharing the password {password!r} "
                      f"and {plan.cars:,} listings to {redact(url)}?", abort=True)
    click.echo(f"adding {plan.cars:,} cars, {plan.sellers:,} sellers and {plan.buyers:,} buyers "
               f"(seed {plan.seed}, {plan.jobs} jobs, {plan.batch_size:,} cars per batch)")
    progress = _BarProgress() if sys.stdout.isatty() else _LineProgress()
    try:
        summary = generate(url, plan, progress)
    except DemoDataError as error:
        raise click.ClickException(str(error)) from None
    finally:
        progress.close()
    added = ", ".join(f"{table} {count:,}" for table, count in summary.inserted.items())
    click.echo(f"added: {added}")
    click.echo("now: " + ", ".join(f"{table} {count:,}" for table, count in summary.totals.items()))
    timings = ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in summary.seconds.items())
    click.echo(f"time: {timings}")
    if summary.last_car_id:
        click.echo(f"car ids {summary.first_car_id}..{summary.last_car_id}; "
                   f"log in as demo.buyer1@example.com / {password}")


class _BarProgress:
    """One click progress bar per phase (on a terminal)."""

    def __init__(self):
        self.bars: dict = {}
        self.shown: dict[str, int] = {}

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase == "analyze":
            if done == 0:
                click.echo("VACUUM (ANALYZE) of the tables written ...")
            return
        if phase not in self.bars:
            bar = click.progressbar(length=total, label=PHASE_LABELS.get(phase, phase), show_pos=True)
            bar.__enter__()
            self.bars[phase], self.shown[phase] = bar, 0
        self.bars[phase].update(done - self.shown[phase])
        self.shown[phase] = done
        if done >= total:
            self.bars.pop(phase).__exit__(None, None, None)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.__exit__(None, None, None)
        self.bars.clear()


class _LineProgress:
    """Plain progress lines (logs, CI): at most one per 10 % of a phase."""

    def __init__(self):
        self.started = time.monotonic()
        self.last_tenth: dict[str, int] = {}

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase == "analyze":
            if done == 0:
                click.echo("VACUUM (ANALYZE) of the tables written ...")
            return
        tenth = done * 10 // max(total, 1)
        if tenth > self.last_tenth.get(phase, -1) or done >= total:
            self.last_tenth[phase] = tenth
            elapsed = time.monotonic() - self.started
            click.echo(f"{PHASE_LABELS.get(phase, phase)}: {done:,}/{total:,} "
                       f"({100 * done // max(total, 1)} %) after {elapsed:.0f} s")

    def close(self) -> None:
        pass
