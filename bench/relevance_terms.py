#!/usr/bin/env python3
"""The relevance page query, term by term: this checkout's against another revision's, same database.

For each term (and three terms with other filters beside q) it runs car_list_relevance (the
public list's filters: listed, q, ...) for the first page and the page after it (the cursor of
the first page's last car), best of three, with this checkout's sql/queries/car_list.sql and
with the one of `--against` (a git revision), and says whether both return the same cars in
the same order. The database must hold what this
checkout's query needs (its migrations); the other revision's query must run there too.

    .venv/bin/python bench/relevance_terms.py --url postgresql://root@127.0.0.1:5432/cms_bench_1m \\
        --against 54a4b93
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cms.db.queries import Query, parse_query_file, with_filters  # noqa: E402
from cms.db.session import session_options  # noqa: E402
from cms.repositories.cars import LIST_CONDITIONS, LIST_FILTERS, page_query  # noqa: E402

TERMS = ("electric", "diesel", "hybrid", "elec", "sunroof", "leather", "navigation", "toyota", "bmw",
         "heated seats", "tow hitch", "zzzz")
# (filter names, values): the same terms with filters beside q.
FILTERED = ((("brand",), {"brand": "Toyota"}), (("max_price",), {"max_price": 15000}),
            (("brand", "max_price"), {"brand": "Kia", "max_price": 9000}))
PARAMS = dict.fromkeys(("after_rank", "after_id"))


def relevance_query(template: Query, filters: tuple[str, ...] = ()) -> Query:
    return with_filters(template, LIST_CONDITIONS, ("listed", "q", *filters), prepare=False)


def query_of_revision(revision: str) -> Query:
    text = subprocess.run(["git", "-C", str(ROOT), "show", f"{revision}:sql/queries/car_list.sql"],
                          capture_output=True, text=True, check=True).stdout
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory, "car_list.sql")
        path.write_text(text, encoding="utf-8")
        return next(item for item in parse_query_file(path) if item.name == "car_list_relevance")


def best_of_three(conn: psycopg.Connection, query: Query, params: dict) -> tuple[list, float]:
    best, rows = float("inf"), []
    for _ in range(3):
        started = time.perf_counter()
        rows = conn.execute(query.sql, params).fetchall()
        best = min(best, time.perf_counter() - started)
    return rows, best * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the database (e.g. cms_bench_1m)")
    parser.add_argument("--against", required=True, help="git revision whose car_list_relevance is compared")
    parser.add_argument("--terms", default=",".join(TERMS), help="comma-separated q values")
    options = parser.parse_args()
    their_template = query_of_revision(options.against)
    cases = [((), {}, term) for term in options.terms.split(",")]
    cases += [(names, values, term) for names, values in FILTERED for term in ("electric", "sunroof", "toyota")]
    print(f"| q | other filters | this checkout, page 1 / 2 (ms) | {options.against}, page 1 / 2 (ms) "
          "| same cars, same order |")
    print("|---|---|---:|---:|---|")
    # As the service's sessions run them: its session settings (no parallel workers, ...), and
    # every run planned for its values (prepare_threshold=None: these are never prepared).
    with psycopg.connect(options.url, autocommit=True, prepare_threshold=None,
                         options=session_options(0)) as conn:
        for names, values, term in cases:
            ours = page_query("relevance", ("listed", "q", *names))  # as the service picks it
            theirs = relevance_query(their_template, names)
            first = {**PARAMS, **dict.fromkeys(LIST_FILTERS), **values, "q": term, "limit": 20, "offset": 0}
            our_rows, our_ms = best_of_three(conn, ours, first)
            their_rows, their_ms = best_of_three(conn, theirs, first)
            after = {**first}
            if our_rows:
                after.update(after_rank=float(our_rows[-1][1]), after_id=our_rows[-1][0])
            our_next, our_next_ms = best_of_three(conn, ours, after)
            their_next, their_next_ms = best_of_three(conn, theirs, after)
            same = our_rows == their_rows and our_next == their_next
            shown = ", ".join(f"{name}={value}" for name, value in values.items()) or "—"
            print(f"| {term} | {shown} | {our_ms:.1f} / {our_next_ms:.1f} | {their_ms:.1f} / {their_next_ms:.1f} | "
                  f"{'yes' if same else '**no**'} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
