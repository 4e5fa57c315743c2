"""Performance at marketplace scale (issue 5), checked without timing anything.

1. Plans: the statements behind the benchmarked routes are captured while the
   routes really run against a private database filled by `cms demo-data`
   (20,000 cars and everything around them, statistics refreshed), then each
   one is EXPLAINed twice: its custom plan (for the very parameters it ran with)
   and its generic plan (PREPARE / EXPLAIN EXECUTE under plan_cache_mode =
   force_generic_plan: the plan a prepared statement may switch to after five
   executions, made without looking at the parameters). A sequential scan of
   cars, orders, inquiries, reviews, favorites or car_images in either fails the
   test: its cost would grow with the table.
2. Statement counts: every list route answers with the same number of SQL
   statements for 3 and for 30 rows (no query per row), and a car list page with
   four: its validator (the ETag), its count, its sort order's page query (the ids)
   and car_list_page_rows (those cars).

Statements are counted for real, by wrapping psycopg's Cursor.execute (through
which Connection.execute runs) in this process. Not counted: the pool's empty
liveness check and get_settings, which each process runs at most once per
cache period (cms/services/settings.py), not per request.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import psycopg
import pytest
from support.app import app_config
from support.databases import connect, create_database, drop_database, unique_database_name

from cms import create_app, db
from cms.db import QUERIES, plans
from cms.db.queries import COMPOSED
from cms.operations.demo_data import DEMO_PASSWORD, DemoPlan, demo_email, generate
from cms.repositories import cars as cars_repo

PLAN_CARS = 20_000
# The admin logs get as many rows as there are cars (demo data writes none).
PLAN_LOG_ROWS = PLAN_CARS
WATCHED_TABLES = frozenset({"cars", "orders", "inquiries", "reviews", "favorites", "car_images", "auth_events",
                            "notification_outbox"})
NOT_PER_REQUEST = frozenset({"get_settings"})
QUERY_NAMES = {item.sql: item.name for item in QUERIES.values()}



def query_name(text: str) -> str:
    """The named query a statement's text is, or the list query composed with filters it is."""
    composed = COMPOSED.get(text)
    return QUERY_NAMES.get(text, composed.name if composed else "(unnamed)")


# --- recording the statements of a request ------------------------------------------

@dataclass
class Statement:
    name: str
    sql: str
    params: object
    prepare: bool | None = None  # psycopg's: False = never prepared, so never planned generically


@dataclass
class StatementLog:
    """Statements run through psycopg while `recording()` is active."""

    statements: list[Statement] = field(default_factory=list)
    active: bool = False

    def record(self, query, params, prepare=None) -> None:
        text = query if isinstance(query, str) else str(query)
        name = query_name(text)
        if self.active and text.strip() and name not in NOT_PER_REQUEST:
            self.statements.append(Statement(name, text, params, prepare))

    @contextmanager
    def recording(self) -> Iterator[list[Statement]]:
        self.statements = []
        self.active = True
        try:
            yield self.statements
        finally:
            self.active = False


@pytest.fixture
def statement_log(monkeypatch) -> StatementLog:
    log = StatementLog()
    original = psycopg.Cursor.execute

    def recording_execute(cursor, query, params=None, **kwargs):
        log.record(query, params, kwargs.get("prepare"))
        return original(cursor, query, params, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", recording_execute)
    return log


def run_request(client, statement_log: StatementLog, method: str, path: str, *, token: str | None = None,
                body: dict | None = None) -> tuple[object, list[Statement]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with statement_log.recording() as statements:
        response = client.open(path, method=method, headers=headers, json=body)
    assert response.status_code == 200, f"{method} {path}: {response.status_code} {response.get_data(as_text=True)}"
    return response, list(statements)


# --- plans on a database of marketplace size -----------------------------------------

@pytest.fixture(scope="session")
def plans_database_url():
    """A private database with every migration and 20,000 demo cars (VACUUM ANALYZE done); dropped at the end."""
    name = unique_database_name("plans")
    url = create_database(name)
    try:
        db.run_dbmate(url, "up")
        generate(url, DemoPlan(cars=PLAN_CARS, seed=5, jobs=1))
        with connect(url) as conn:
            conn.execute(
                "INSERT INTO auth_events (occurred_at, event_type, email, ip, user_agent)"
                " SELECT now() - n * interval '1 minute', (ARRAY['login_success', 'login_failure'])[1 + n %% 2],"
                " 'user' || (n %% 500) || '@example.com', '10.0.' || (n %% 250) || '.1', 'bench'"
                " FROM generate_series(1, %(n)s) AS n", {"n": PLAN_LOG_ROWS})
            conn.execute(
                "INSERT INTO notification_outbox (kind, message, status, created_at)"
                " SELECT 'test', 'message ' || n, 'sent', now() - n * interval '1 minute'"
                " FROM generate_series(1, %(n)s) AS n", {"n": PLAN_LOG_ROWS})
            conn.execute("ANALYZE auth_events")
            conn.execute("ANALYZE notification_outbox")
        yield url
    finally:
        drop_database(name)


@pytest.fixture(scope="session")
def plans_app(plans_database_url):
    application = create_app(app_config(plans_database_url))
    yield application
    application.extensions["cms.pool"].close()


@pytest.fixture(scope="session")
def plans_sql(plans_database_url):
    with connect(plans_database_url) as conn:  # the service's session settings (planner costs, no JIT)
        yield conn


@pytest.fixture(scope="session")
def scale(plans_app, plans_sql):
    """Realistic parameters from the demo data: accounts (with tokens) and cars."""
    from cms.api.tokens import issue_token

    def account(email: str) -> dict:
        row = plans_sql.execute(
            "SELECT id, role, email, name FROM users WHERE lower(email) = lower(%s)", (email,)
        ).fetchone()
        assert row is not None, email
        with plans_app.app_context():
            row["token"] = issue_token(row)
        return row

    plan = DemoPlan(cars=PLAN_CARS)
    buyer = account(demo_email("user", plan.buyers // 2))
    seller = account(demo_email("seller", plan.sellers // 2))
    admin = account("demo.admin@example.com")
    reviewed_car = plans_sql.execute(
        "SELECT car_id FROM reviews GROUP BY car_id ORDER BY car_id DESC LIMIT 1"
    ).fetchone()["car_id"]
    available = [row["id"] for row in plans_sql.execute(
        "SELECT id FROM cars WHERE status = 'available' ORDER BY id DESC LIMIT 3"
    )]
    return {"buyer": buyer, "seller": seller, "admin": admin, "reviewed_car": reviewed_car, "available": available}


def sequential_scans(plan: dict) -> list[str]:
    """Relations of the watched tables read by a Seq Scan anywhere in an EXPLAIN (FORMAT JSON) plan."""
    found = []
    if plan.get("Node Type") == "Seq Scan" and plan.get("Relation Name") in WATCHED_TABLES:
        found.append(plan["Relation Name"])
    for child in plan.get("Plans", []):
        found += sequential_scans(child)
    return found


def explain(conn: psycopg.Connection, statement: Statement) -> dict:
    """The custom plan: the one PostgreSQL makes for these very parameters."""
    return _plan(conn.execute("EXPLAIN (FORMAT JSON) " + statement.sql, statement.params).fetchone())


def explain_generic(conn: psycopg.Connection, statement: Statement) -> dict:
    """The generic plan: the one a prepared statement switches to after five executions when it
    looks no dearer than the custom ones (psycopg prepares a statement on its fifth run), made
    for any parameters. `plan_cache_mode = force_generic_plan` shows it at once (cms/db/plans.py)."""
    return plans.explain(conn, statement, statement.params, generic=True, analyze=False)["Plan"]


def _plan(row: dict) -> dict:
    document = row["QUERY PLAN"]
    if isinstance(document, str):
        document = json.loads(document)
    return document[0]["Plan"]


def assert_no_sequential_scans(conn: psycopg.Connection, statements: list[Statement], *,
                               allowed: frozenset[str] = frozenset()) -> None:
    """Neither the custom nor the generic plan of any statement reads a watched table sequentially.

    A statement run with prepare=False (its query says "Never prepared:", cms.db.queries) is
    planned for its parameters on every execution: it never gets a generic plan.
    """
    assert statements, "the request ran no SQL statement: nothing was recorded"
    offenders = []
    for statement in statements:
        plans = [("custom", explain(conn, statement))]
        if statement.prepare is not False:
            plans.append(("generic", explain_generic(conn, statement)))
        for kind, plan in plans:
            tables = set(sequential_scans(plan)) - allowed
            if tables:
                offenders.append(f"{statement.name} ({kind} plan): Seq Scan on {', '.join(sorted(tables))}")
    assert not offenders, "sequential scans at 20,000 cars:\n" + "\n".join(offenders)


PAGED_ROUTES = {
    "newest_first": "/api/cars?limit=20",
    "brand_and_price": "/api/cars?brand=Toyota&minPrice=10000&maxPrice=25000&limit=20",
    "full_text_search": "/api/cars?q=sunroof&limit=20",
    "second_page": "/api/cars?limit=20&offset=20",
    "admin_page": "/api/admin/cars?limit=20",
    "oldest_first": "/api/cars?sort=oldest&limit=20",
    "cheapest_first": "/api/cars?sort=price_asc&limit=20",
    "dearest_first": "/api/cars?sort=price_desc&limit=20",
    "oldest_model_first": "/api/cars?sort=year_asc&limit=20",
    "newest_model_first": "/api/cars?sort=year_desc&limit=20",
    "relevance": "/api/cars?q=sunroof&sort=relevance&limit=20",
}


@pytest.mark.parametrize("route", sorted(PAGED_ROUTES))
def test_car_list_pages_read_no_table_sequentially(route, plans_app, plans_sql, scale, statement_log):
    token = scale["admin"]["token"] if route.startswith("admin") else None
    _, statements = run_request(plans_app.test_client(), statement_log, "GET", PAGED_ROUTES[route], token=token)
    assert_no_sequential_scans(plans_sql, statements)


@pytest.mark.parametrize("route", sorted(PAGED_ROUTES))
def test_car_list_pages_read_a_bounded_share_of_the_table(route, plans_app, plans_sql, scale, statement_log):
    # No Seq Scan is not enough: a full index scan, a window over every match or an exact
    # count of every car also grows with the table. A page of 20 may read at most a
    # quarter of the cars (the count may stop at a cap, the page after offset + limit rows).
    token = scale["admin"]["token"] if route.startswith("admin") else None
    _, statements = run_request(plans_app.test_client(), statement_log, "GET", PAGED_ROUTES[route], token=token)
    budget = PLAN_CARS // 4
    for statement in statements:
        row = plans_sql.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement.sql, statement.params).fetchone()
        document = row["QUERY PLAN"]
        plan = (json.loads(document) if isinstance(document, str) else document)[0]["Plan"]
        heavy = {table: rows for table, rows in plans.rows_read(plan, WATCHED_TABLES).items() if rows > budget}
        assert not heavy, f"{statement.name} read {heavy} rows for one page (budget {budget:,} per table)"


@pytest.mark.parametrize("sort", ["newest", "price_asc", "year_desc"])
def test_a_cursor_page_deep_in_the_list_reads_no_table_sequentially(sort, plans_app, plans_sql, statement_log):
    # The Link of a page 90 % down the list (reached with offset) leads to a page that starts at
    # its last car in the (sort key, id) index of the sort order.
    client = plans_app.test_client()
    link = client.get(f"/api/cars?sort={sort}&limit=20&offset={PLAN_CARS * 9 // 10}").headers["Link"]
    next_path = link[link.index("/api/"):link.index(">")]
    response, statements = run_request(client, statement_log, "GET", next_path)
    assert len(response.get_json()) == 20
    assert_no_sequential_scans(plans_sql, statements)


def test_full_car_list_reads_no_table_sequentially(plans_app, plans_sql, statement_log):
    # Every car is asked for, but in batches: each batch walks the index of its sort order
    # from the previous batch's last car, and the primary images come from their index.
    response, statements = run_request(plans_app.test_client(), statement_log, "GET", "/api/cars")
    assert len(response.get_json()) == PLAN_CARS
    assert_no_sequential_scans(plans_sql, [s for s in statements if s.name != "cars_list_snapshot"])


def test_car_detail_reads_no_table_sequentially(plans_app, plans_sql, scale, statement_log):
    path = f"/api/cars/{scale['reviewed_car']}"
    _, statements = run_request(plans_app.test_client(), statement_log, "GET", path)
    assert_no_sequential_scans(plans_sql, statements)


def test_car_images_read_no_table_sequentially(plans_app, plans_sql, scale, statement_log):
    path = f"/api/cars/{scale['reviewed_car']}/images"
    _, statements = run_request(plans_app.test_client(), statement_log, "GET", path)
    assert_no_sequential_scans(plans_sql, statements)


def test_car_reviews_read_no_table_sequentially(plans_app, plans_sql, scale, statement_log):
    path = f"/api/reviews/car/{scale['reviewed_car']}"
    response, statements = run_request(plans_app.test_client(), statement_log, "GET", path)
    assert response.get_json(), "the car chosen has reviews"
    assert_no_sequential_scans(plans_sql, statements)


@pytest.mark.parametrize(("path", "role"), [
    ("/api/favorites", "buyer"),
    ("/api/payments/my-orders", "buyer"),
    ("/api/inquiries", "buyer"),
    ("/api/seller/orders", "seller"),
    ("/api/seller/inquiries", "seller"),
    ("/api/admin/actions", "admin"),
    ("/api/admin/security-log?limit=20", "admin"),
    ("/api/admin/security-log?limit=20&email=user7@example.com", "admin"),
    ("/api/admin/notifications?limit=20", "admin"),
])
def test_account_lists_read_no_table_sequentially(path, role, plans_app, plans_sql, scale, statement_log):
    _, statements = run_request(plans_app.test_client(), statement_log, "GET", path, token=scale[role]["token"])
    assert_no_sequential_scans(plans_sql, statements)


def test_login_reads_no_table_sequentially(plans_app, plans_sql, scale, statement_log):
    body = {"email": scale["buyer"]["email"], "password": DEMO_PASSWORD}
    _, statements = run_request(plans_app.test_client(), statement_log, "POST", "/api/auth/login", body=body)
    assert_no_sequential_scans(plans_sql, statements)


def test_checkout_and_confirmation_read_no_table_sequentially(plans_app, plans_sql, scale, statement_log):
    client = plans_app.test_client()
    token = scale["buyer"]["token"]
    response, checkout = run_request(client, statement_log, "POST", "/api/payments/checkout", token=token,
                                     body={"carId": scale["available"][0]})
    order_id = response.get_json()["order"]["id"]
    _, confirm = run_request(client, statement_log, "POST", "/api/payments/confirm-payment", token=token,
                             body={"orderId": order_id})
    assert_no_sequential_scans(plans_sql, checkout + confirm)


# --- statements per request: constant in the number of rows -------------------------

class World:
    """Accounts and n of everything each list route shows, grown on demand."""

    def __init__(self, factory):
        self.factory = factory
        self.seller = factory.user("seller")
        self.buyer = factory.user("user")
        self.admin = factory.user("admin")
        self.cars: list[dict] = []
        self.size = 0

    def grow(self, n: int) -> None:
        f = self.factory
        for index in range(self.size, n):
            car = f.car(self.seller)
            self.cars.append(car)
            f.row("car_images", car_id=car["id"], image_url=f"/images/car{1 + index % 3}.png", is_primary=True,
                  display_order=0)
            reviewer = f.user("user")
            f.row("reviews", car_id=self.cars[0]["id"], user_id=reviewer["id"], user_name=reviewer["name"],
                  rating=1 + index % 5, comment="Fine")
            f.row("favorites", user_id=self.buyer["id"], car_id=car["id"])
            f.row("orders", car_id=car["id"], buyer_id=self.buyer["id"], seller_id=self.seller["id"],
                  final_price=car["price"], status="pending", documents=[])
            f.row("inquiries", car_id=car["id"], user_id=self.buyer["id"], seller_id=self.seller["id"],
                  message="Still available?", status="open", type="general")
            f.row("admin_actions", admin_id=self.admin["id"], action_type="update_user", target_id=reviewer["id"],
                  details={"isActive": True})
        self.size = n


LIST_ROUTES = {
    "cars": ("/api/cars", None),
    "cars_filtered": ("/api/cars?brand=Brand&minPrice=1&maxPrice=999999&q=car&status=available&limit=50", None),
    "reviews_of_car": ("/api/reviews/car/{first_car}", None),
    "favorites": ("/api/favorites", "buyer"),
    "my_orders": ("/api/payments/my-orders", "buyer"),
    "my_inquiries": ("/api/inquiries", "buyer"),
    "seller_orders": ("/api/seller/orders", "seller"),
    "seller_inquiries": ("/api/seller/inquiries", "seller"),
    "admin_users": ("/api/admin/users", "admin"),
    "admin_cars": ("/api/admin/cars", "admin"),
    "admin_actions": ("/api/admin/actions", "admin"),
}


def list_length(response) -> int:
    body = response.get_json()
    if isinstance(body, dict):
        body = body.get("actions", [])
    return len(body)


@pytest.mark.parametrize("route", sorted(LIST_ROUTES))
def test_list_routes_run_as_many_statements_for_30_rows_as_for_3(route, client, factory, statement_log):
    world = World(factory)
    path_template, role = LIST_ROUTES[route]
    counts, lengths = {}, {}
    for size in (3, 30):
        world.grow(size)
        path = path_template.format(first_car=world.cars[0]["id"])
        token = factory.token(getattr(world, role)) if role else None
        response, statements = run_request(client, statement_log, "GET", path, token=token)
        counts[size] = [statement.name for statement in statements]
        lengths[size] = list_length(response)
    assert lengths[30] > lengths[3], f"the list did not grow: {lengths}"
    assert len(counts[30]) == len(counts[3]), f"statements per request grew with the rows: {counts}"


@pytest.mark.parametrize(("path", "expected"), [
    ("/api/cars?limit=20", ["car_list_newest (listed)"]),
    ("/api/cars?q=car&brand=Brand&limit=5", ["car_list_newest (listed, q, brand)"]),
    ("/api/cars?brand=Brand&sort=price_asc&limit=5", ["car_list_price_asc (listed, brand)"]),
    ("/api/cars?brand=Brand&limit=5&offset=100",
     ["car_list_count (listed, brand)", "car_list_newest (listed, brand)"]),
])
def test_car_list_page_is_its_validator_its_ids_and_their_rows(path, expected, client, factory, statement_log):
    # Near the start the page query counts too (it reads the matches up to the count's cap);
    # further in, the capped count is a statement of its own.
    World(factory).grow(12)
    _, statements = run_request(client, statement_log, "GET", path)
    assert [statement.name for statement in statements] == ["data_version_current", *expected, "car_list_page_rows"]


def test_car_list_page_after_a_cursor_counts_from_the_start(client, factory, statement_log):
    World(factory).grow(12)
    first = client.get("/api/cars?limit=5")
    next_url = urlsplit(first.headers["Link"].split(">", 1)[0].lstrip("<"))
    response, statements = run_request(client, statement_log, "GET", f"{next_url.path}?{next_url.query}")
    assert response.headers["X-Total-Count"] == first.headers["X-Total-Count"]
    assert [statement.name for statement in statements] == [
        "data_version_current", "car_list_count_newest_first (listed)", "car_list_newest (listed)",
        "car_list_page_rows"]


def test_whole_car_list_is_a_snapshot_a_count_and_one_statement_per_batch(client, factory, statement_log):
    World(factory).grow(12)
    _, statements = run_request(client, statement_log, "GET", "/api/cars")
    assert [statement.name for statement in statements] == [
        "data_version_current", "cars_list_snapshot", "end_session_if_idle_in_transaction",
        "data_version_current", "car_list_count_newest_first (listed)",
        "car_list_newest (listed)", "car_list_page_rows"]


def test_list_queries_are_prepared_only_without_filters():
    # Without filters the generic plan walks the sort order's index (the plan tests above check
    # both plans); with a filter, the query is planned for its values every time.
    assert cars_repo.list_statement(cars_repo.LIST_PAGES["newest"], ("listed",)).prepare is None
    assert cars_repo.list_statement(cars_repo.LIST_PAGES["price_asc"], ()).prepare is None
    assert cars_repo.list_statement(cars_repo.LIST_PAGES["newest"], ("listed", "brand")).prepare is False
    assert cars_repo.list_statement(cars_repo.LIST_PAGES["relevance"], ("listed", "q")).prepare is False


def test_relevance_with_a_filter_beside_q_reads_the_lowest_rank_matches_in_bounded_steps():
    assert cars_repo.page_query("relevance", ("listed", "q")).name == "car_list_relevance (listed, q)"
    assert cars_repo.page_query("relevance", ("q",)).name == "car_list_relevance (q)"
    assert cars_repo.page_query("relevance", ("listed", "q", "brand")).name == \
        "car_list_relevance_filtered (listed, q, brand)"
    assert cars_repo.page_query("newest", ("listed", "q", "brand")).name == "car_list_newest (listed, q, brand)"


def test_a_list_pages_rows_are_read_with_one_generic_plan(factory, database_url):
    # The page query has a LIMIT parameter, so PostgreSQL plans it anew on every execution (its
    # guess for an unknown LIMIT makes every generic plan look dearer than a custom one); the rows
    # of the page are read by a statement without one, which PostgreSQL plans once and reuses.
    World(factory).grow(6)
    with db.connect(database_url) as conn:
        for _ in range(13):  # psycopg prepares it on its 6th run, PostgreSQL plans 5 runs for their values
            page = cars_repo.list_cars(conn, limit=5)
            assert len(list(page.rows)) == 5
        prepared = conn.execute("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements").fetchall()
    # psycopg sends %(ids)s as $1: the statement is found by the rest of its text
    [rows_plans] = [row for row in prepared if "WITH ORDINALITY AS page (id, position)" in row["statement"]]
    assert rows_plans["generic_plans"] >= 2 and rows_plans["custom_plans"] <= 5, rows_plans
