"""seed.sql loads through the real psql (and `cms db seed`, through psycopg) any number of times,
with the contract's accounts and cars."""

from __future__ import annotations

import subprocess
from decimal import Decimal

from click.testing import CliRunner
from support.app import atob_payload
from support.databases import count_rows

from cms import cli, db
from cms.services.passwords import check_password

SEEDED_TABLES = ("users", "cars", "car_images", "reviews")
ACCOUNTS = {
    "admin@example.com": ("admin123", "admin"),
    "seller@example.com": ("seller123", "seller"),
    "user@example.com": ("user123", "user"),
}
CARS = {
    "Aura GT-S Concept": (Decimal("185000.00"), "Aura", "GT-S", 2024, "Electric", "/images/car1.png"),
    "Mountain Defender Pro": (Decimal("74900.00"), "Defender", "Pro", 2023, "Gasoline", "/images/car2.png"),
    "Lunar Lucid Sedan": (Decimal("92000.00"), "Lunar", "Lucid", 2024, "Electric", "/images/car3.png"),
}


def psql_seed(url: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["psql", url, "-v", "ON_ERROR_STOP=1", "-f", str(db.SEED_FILE)],
        capture_output=True, text=True, timeout=60,
    )


def counts(sql) -> dict[str, int]:
    return {table: count_rows(sql, table) for table in SEEDED_TABLES}


def test_seed_runs_twice_through_psql_without_error_or_duplicates(database_url, sql):
    first = psql_seed(database_url)
    assert first.returncode == 0, first.stderr
    assert "ERROR" not in first.stderr
    after_first = counts(sql)
    assert after_first == {"users": 3, "cars": 3, "car_images": 3, "reviews": 1}

    second = psql_seed(database_url)
    assert second.returncode == 0, second.stderr
    assert "ERROR" not in second.stderr
    assert counts(sql) == after_first


def test_seed_holds_the_contracts_accounts_and_cars(database_url, sql):
    assert psql_seed(database_url).returncode == 0

    users = {row["email"]: row for row in sql.execute("SELECT * FROM users")}
    assert set(users) == set(ACCOUNTS)
    for email, (password, role) in ACCOUNTS.items():
        assert users[email]["role"] == role and users[email]["is_active"] is True
        cost = int(users[email]["password_hash"].split("$")[2])
        assert cost >= 10
        assert check_password(password, users[email]["password_hash"])

    cars = {row["title"]: row for row in sql.execute("SELECT * FROM cars")}
    assert set(cars) == set(CARS)
    for title, (price, brand, model, year, fuel, image) in CARS.items():
        car = cars[title]
        assert (car["price"], car["brand"], car["model"], car["year"], car["fuel_type"], car["image"]) == (
            price, brand, model, year, fuel, image
        )
        assert car["status"] == "available"
        assert car["seller_id"] == users["seller@example.com"]["id"]
        assert car["description"]
    primaries = sql.execute("SELECT car_id FROM car_images WHERE is_primary ORDER BY car_id").fetchall()
    assert [row["car_id"] for row in primaries] == sorted(car["id"] for car in cars.values())


def test_the_seeded_admin_logs_in_through_the_api(database_url, client):
    assert psql_seed(database_url).returncode == 0

    response = client.post("/api/auth/login", json={"email": "admin@example.com", "password": "admin123"})

    assert response.status_code == 200
    payload = atob_payload(response.get_json()["token"])
    assert set(payload) == {"id", "role", "email", "iat", "exp"}
    assert payload["role"] == "admin" and payload["email"] == "admin@example.com"
    for email, (password, role) in ACCOUNTS.items():
        if role != "admin":
            login = client.post("/api/auth/login", json={"email": email, "password": password})
            assert login.status_code == 200 and login.get_json()["user"]["role"] == role


def test_seed_keeps_existing_accounts_whatever_their_letter_case(database_url, sql, factory):
    existing = factory.user("admin", email="Admin@Example.com", name="Existing Admin")

    result = psql_seed(database_url)

    assert result.returncode == 0, result.stderr
    admins = sql.execute("SELECT * FROM users WHERE lower(email) = 'admin@example.com'").fetchall()
    assert len(admins) == 1
    assert admins[0]["id"] == existing["id"] and admins[0]["name"] == "Existing Admin"
    assert admins[0]["password_hash"] == existing["password_hash"]


def test_seed_lists_the_cars_under_an_existing_seller_account_and_leaves_other_sellers_alone(database_url, sql,
                                                                                            factory):
    seller = factory.user("seller", email=" Seller@Example.COM ")
    other = factory.user("seller", email="other@example.com")
    namesake = factory.car(other, title="Aura GT-S Concept")

    assert psql_seed(database_url).returncode == 0

    cars = sql.execute("SELECT title, seller_id FROM cars WHERE id <> %s", (namesake["id"],)).fetchall()
    assert sorted(car["title"] for car in cars) == sorted(CARS)
    assert {car["seller_id"] for car in cars} == {seller["id"]}
    reviewed = sql.execute("SELECT car_id FROM reviews").fetchall()
    assert len(reviewed) == 1 and reviewed[0]["car_id"] != namesake["id"]
    assert sql.execute("SELECT count(*) AS n FROM car_images WHERE car_id = %s", (namesake["id"],)).fetchone()["n"] == 0


def test_cms_db_seed_needs_no_psql_and_runs_again(database_url, sql, monkeypatch, tmp_path):
    """`cms db seed` loads the file through psycopg: a server without PostgreSQL's client tools."""
    monkeypatch.setenv("PATH", str(tmp_path))  # no psql (nor anything else) to be found
    monkeypatch.setenv("DATABASE_URL", database_url)
    for _ in range(2):
        result = CliRunner().invoke(cli.main, ["db", "seed"])
        assert result.exit_code == 0, result.output
        assert "seed.sql loaded" in result.output
    assert counts(sql) == {"users": 3, "cars": 3, "car_images": 3, "reviews": 1}
