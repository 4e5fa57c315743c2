"""The floor of the list pages (issue 21): the least this stack can do for a page of cars.

A minimal Flask app on the same database, server and shape as the service: a psycopg pool and
one prepared statement (bench_floor_newest_cars in sql/demo/bench.sql: the 20 newest cars with
their primary image) answered with `jsonify`. No schemas, hooks, envelope, filters or counts:
what every list page of the service costs on top of this is the service's own. bench/run.py
serves it with granian (`granian --interface wsgi bench.floor_app:app`, DATABASE_URL set) and
reports each list page as a share of its requests per second.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from flask import Flask, jsonify
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cms.db import parse_query_file  # noqa: E402

NEWEST_CARS = {item.name: item for item in parse_query_file(ROOT / "sql" / "demo" / "bench.sql")}[
    "bench_floor_newest_cars"].sql

app = Flask(__name__)
pool = ConnectionPool(os.environ["DATABASE_URL"], min_size=int(os.environ.get("DB_POOL_MIN", "4")),
                      max_size=int(os.environ.get("DB_POOL_MAX", "6")), kwargs={"row_factory": dict_row},
                      open=True)


@app.get("/api/cars")
def newest_cars():
    with pool.connection() as conn:
        rows = conn.execute(NEWEST_CARS, prepare=True).fetchall()
    return jsonify(rows)
