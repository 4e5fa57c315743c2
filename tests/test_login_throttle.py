"""Login abuse: failures counted in PostgreSQL per email and per address, 429 + Retry-After,
reset by a successful login, shared by every instance; every attempt recorded."""

import datetime as dt

import pytest

from cms.services import security


@pytest.fixture
def account(factory):
    return factory.user("user", email="victim@example.com", password="Right-Passw0rd!")


def login(client, email, password, ip="203.0.113.7", agent="pytest-browser"):
    return client.post("/api/auth/login", json={"email": email, "password": password},
                       headers={"User-Agent": agent}, environ_base={"REMOTE_ADDR": ip})


def test_five_failures_lock_the_account_for_a_while_even_for_the_right_password(client, account, sql):
    for _ in range(security.MAX_FAILURES_PER_EMAIL):
        assert login(client, "victim@example.com", "wrong").status_code == 400
    refused = login(client, "Victim@Example.com", "Right-Passw0rd!")
    assert refused.status_code == 429
    retry_after = int(refused.headers["Retry-After"])
    assert 0 < retry_after <= security.WINDOW_SECONDS
    assert refused.get_json()["error"].startswith("Too many failed logins")
    assert sql.execute(
        "SELECT count(*) AS n FROM auth_events WHERE event_type = 'login_throttled'").fetchone()["n"] == 1


def test_a_successful_login_resets_the_count_for_the_account(client, account):
    for _ in range(security.MAX_FAILURES_PER_EMAIL - 1):
        login(client, "victim@example.com", "wrong")
    assert login(client, "victim@example.com", "Right-Passw0rd!").status_code == 200
    for _ in range(security.MAX_FAILURES_PER_EMAIL - 1):
        assert login(client, "victim@example.com", "wrong").status_code == 400
    assert login(client, "victim@example.com", "Right-Passw0rd!").status_code == 200


def test_failures_older_than_the_window_no_longer_count(client, account, factory):
    old = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=security.WINDOW_SECONDS + 60)
    for _ in range(10):
        factory.row("auth_events", event_type="login_failure", email="victim@example.com", ip="203.0.113.7",
                    occurred_at=old)
    assert login(client, "victim@example.com", "Right-Passw0rd!").status_code == 200


def test_many_failures_from_one_address_refuse_it_but_not_other_addresses(client, account):
    for number in range(security.MAX_FAILURES_PER_IP):
        assert login(client, f"nobody{number}@example.com", "guess", ip="198.51.100.9").status_code == 400
    assert login(client, "victim@example.com", "Right-Passw0rd!", ip="198.51.100.9").status_code == 429
    assert login(client, "victim@example.com", "Right-Passw0rd!", ip="198.51.100.10").status_code == 200


def test_the_limit_holds_across_service_instances(make_app, account):
    first, second = make_app().test_client(), make_app().test_client()
    for client in (first, second, first, second, first):
        assert login(client, "victim@example.com", "wrong").status_code == 400
    assert login(second, "victim@example.com", "Right-Passw0rd!").status_code == 429


def test_every_attempt_is_recorded_with_time_email_address_and_agent(client, account, sql):
    login(client, " Victim@example.com ", "Hunter2-guess", agent="Firefox/140")
    login(client, "victim@example.com", "Right-Passw0rd!", agent="Firefox/140")
    login(client, "ghost@example.com", "whatever", agent="curl/8")
    rows = sql.execute(
        "SELECT event_type, user_id, email, ip, user_agent, occurred_at, details FROM auth_events ORDER BY id"
    ).fetchall()
    assert [(r["event_type"], r["email"], r["ip"], r["user_agent"]) for r in rows] == [
        ("login_failure", "victim@example.com", "203.0.113.7", "Firefox/140"),
        ("login_success", "victim@example.com", "203.0.113.7", "Firefox/140"),
        ("login_failure", "ghost@example.com", "203.0.113.7", "curl/8"),
    ]
    assert rows[0]["user_id"] == account["id"] and rows[2]["user_id"] is None
    assert all(r["occurred_at"] is not None for r in rows)
    assert "Hunter2-guess" not in str([r["details"] for r in rows])
    assert [r["details"].get("reason") for r in rows] == ["wrong password", None, "unknown email"]


def test_registration_is_recorded(client, sql):
    response = client.post("/api/auth/register", json={"name": "New", "email": "new@example.com",
                                                       "password": "secret12", "role": "seller"})
    assert response.status_code == 200
    [event] = sql.execute("SELECT event_type, email, details FROM auth_events").fetchall()
    assert event == {"event_type": "register", "email": "new@example.com", "details": {"role": "seller"}}


def test_a_forged_forwarded_for_header_neither_locks_nor_frees_an_address(client, account):
    for number in range(security.MAX_FAILURES_PER_IP):
        response = client.post("/api/auth/login", json={"email": f"spray{number}@example.com", "password": "x"},
                               headers={"X-Forwarded-For": f"10.0.0.{number}"},
                               environ_base={"REMOTE_ADDR": "198.51.100.20"})
        assert response.status_code == 400
    # Rotating the header did not spread the failures: the real address is refused...
    assert login(client, "victim@example.com", "Right-Passw0rd!", ip="198.51.100.20").status_code == 429
    # ...and naming someone else's address in the header does not lock them out.
    assert login(client, "victim@example.com", "Right-Passw0rd!", ip="198.51.100.21").status_code == 200


def test_behind_a_trusted_proxy_the_forwarded_address_counts(make_app, account, sql):
    client = make_app(trusted_proxies=1).test_client()
    client.post("/api/auth/login", json={"email": "victim@example.com", "password": "x"},
                headers={"X-Forwarded-For": "203.0.113.99"}, environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert sql.execute("SELECT ip FROM auth_events").fetchone()["ip"] == "203.0.113.99"
