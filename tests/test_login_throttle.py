"""Login abuse: failures counted in PostgreSQL per (email, address), per address and per email
from every address (a growing delay, never a lockout), 429 + Retry-After, reset by a successful
login, shared by every instance, raced in vain; every attempt recorded."""

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from support.app import error_of

from cms.services import security


@pytest.fixture
def account(factory):
    return factory.user("user", email="victim@example.com", password="Right-Passw0rd!")


def login(client, email, password, ip="203.0.113.7", agent="pytest-browser"):
    return client.post("/api/auth/login", json={"email": email, "password": password},
                       headers={"User-Agent": agent}, environ_base={"REMOTE_ADDR": ip})


def assert_signed_in(response, email="victim@example.com"):
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["user"]["email"] == email


def assert_wrong_password(response):
    assert (response.status_code, error_of(response)) == (400, "Invalid credentials")


def assert_throttled(response):
    assert response.status_code == 429
    assert error_of(response).startswith("Too many failed logins; try again in ")


def test_five_failures_from_one_address_refuse_that_address_for_the_account(client, account, sql):
    for _ in range(security.MAX_FAILURES_PER_PAIR):
        assert_wrong_password(login(client, "victim@example.com", "wrong"))
    refused = login(client, "Victim@Example.com", "Right-Passw0rd!")
    assert refused.status_code == 429
    retry_after = int(refused.headers["Retry-After"])
    assert 0 < retry_after <= security.WINDOW_SECONDS
    assert refused.get_json()["error"].startswith("Too many failed logins")
    assert sql.execute(
        "SELECT count(*) AS n FROM auth_events WHERE event_type = 'login_throttled'").fetchone()["n"] == 1


def test_a_successful_login_resets_the_count_for_the_account(client, account):
    for _ in range(security.MAX_FAILURES_PER_PAIR - 1):
        login(client, "victim@example.com", "wrong")
    assert_signed_in(login(client, "victim@example.com", "Right-Passw0rd!"))
    for _ in range(security.MAX_FAILURES_PER_PAIR - 1):
        assert_wrong_password(login(client, "victim@example.com", "wrong"))
    assert_signed_in(login(client, "victim@example.com", "Right-Passw0rd!"))


def test_failures_older_than_the_window_no_longer_count(client, account, factory):
    old = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=security.WINDOW_SECONDS + 60)
    for _ in range(10):
        factory.row("auth_events", event_type="login_failure", email="victim@example.com", ip="203.0.113.7",
                    occurred_at=old)
    assert_signed_in(login(client, "victim@example.com", "Right-Passw0rd!"))


def test_many_failures_from_one_address_refuse_it_but_not_other_addresses(client, account):
    for number in range(security.MAX_FAILURES_PER_ADDRESS):
        assert_wrong_password(login(client, f"nobody{number}@example.com", "guess", ip="198.51.100.9"))
    assert_throttled(login(client, "victim@example.com", "Right-Passw0rd!", ip="198.51.100.9"))
    assert_signed_in(login(client, "victim@example.com", "Right-Passw0rd!", ip="198.51.100.10"))


def test_the_limit_holds_across_service_instances(make_app, account):
    first, second = make_app().test_client(), make_app().test_client()
    for client in (first, second, first, second, first):
        assert_wrong_password(login(client, "victim@example.com", "wrong"))
    assert_throttled(login(second, "victim@example.com", "Right-Passw0rd!"))


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
    for number in range(security.MAX_FAILURES_PER_ADDRESS):
        response = client.post("/api/auth/login", json={"email": f"spray{number}@example.com", "password": "x"},
                               headers={"X-Forwarded-For": f"10.0.0.{number}"},
                               environ_base={"REMOTE_ADDR": "198.51.100.20"})
        assert_wrong_password(response)
    # Rotating the header did not spread the failures: the real address is refused...
    assert_throttled(login(client, "victim@example.com", "Right-Passw0rd!", ip="198.51.100.20"))
    # ...and naming someone else's address in the header does not lock them out.
    assert_signed_in(login(client, "victim@example.com", "Right-Passw0rd!", ip="198.51.100.21"))


def test_behind_a_trusted_proxy_the_forwarded_address_counts(make_app, account, sql):
    client = make_app(trusted_proxies=1).test_client()
    client.post("/api/auth/login", json={"email": "victim@example.com", "password": "x"},
                headers={"X-Forwarded-For": "203.0.113.99"}, environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert sql.execute("SELECT ip FROM auth_events").fetchone()["ip"] == "203.0.113.99"


def test_a_stranger_guessing_does_not_keep_the_owner_out(client, account):
    for _ in range(security.MAX_FAILURES_PER_PAIR + 3):
        response = login(client, "victim@example.com", "guess", ip="198.51.100.66")
        assert (response.status_code, error_of(response).split(";")[0]) in (
            (400, "Invalid credentials"), (429, "Too many failed logins"))
    assert_throttled(login(client, "victim@example.com", "Right-Passw0rd!", ip="198.51.100.66"))
    # The owner, from their own address, right away:
    assert_signed_in(login(client, "victim@example.com", "Right-Passw0rd!", ip="203.0.113.7"))


def failures_from_many_addresses(factory, count: int, seconds_ago: float) -> None:
    at = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=seconds_ago)
    for number in range(count):
        factory.row("auth_events", event_type="login_failure", email="victim@example.com",
                    ip=f"192.0.2.{number + 1}", occurred_at=at)


def test_failures_from_many_addresses_slow_the_account_progressively_without_locking_it(client, account, factory):
    failures_from_many_addresses(factory, security.ACCOUNT_SLOWDOWN_AFTER + 4, seconds_ago=0)
    slowed = login(client, "victim@example.com", "Right-Passw0rd!", ip="203.0.113.50")
    assert slowed.status_code == 429
    first_wait = int(slowed.headers["Retry-After"])
    assert 1 <= first_wait <= 8

    failures_from_many_addresses(factory, 30, seconds_ago=0)
    slower = login(client, "victim@example.com", "Right-Passw0rd!", ip="203.0.113.50")
    assert slower.status_code == 429
    # Slower with every failure, but never a lockout: at most a minute, not the whole window.
    assert first_wait < int(slower.headers["Retry-After"]) <= security.MAX_ACCOUNT_DELAY_SECONDS


def test_once_the_delay_has_passed_the_owner_logs_in(client, account, factory):
    failures_from_many_addresses(factory, 40, seconds_ago=security.MAX_ACCOUNT_DELAY_SECONDS + 1)
    assert_signed_in(login(client, "victim@example.com", "Right-Passw0rd!", ip="203.0.113.50"))


def test_the_delay_grows_with_the_failures_and_has_a_ceiling():
    delays = [security.account_delay(n) for n in range(0, 40)]
    assert delays[: security.ACCOUNT_SLOWDOWN_AFTER + 1] == [0.0] * (security.ACCOUNT_SLOWDOWN_AFTER + 1)
    assert delays == sorted(delays)
    assert max(delays) == security.MAX_ACCOUNT_DELAY_SECONDS


def test_forty_parallel_wrong_passwords_get_at_most_five_plain_failures(live_server, account, sql):
    def attempt(_):
        return requests.post(f"{live_server.url}/api/auth/login", timeout=60,
                             json={"email": "victim@example.com", "password": "wrong"}).status_code

    with ThreadPoolExecutor(max_workers=40) as pool:
        statuses = list(pool.map(attempt, range(40)))

    assert set(statuses) <= {400, 429}
    assert 1 <= statuses.count(400) <= security.MAX_FAILURES_PER_PAIR
    failures = sql.execute("SELECT count(*) AS n FROM auth_events WHERE event_type = 'login_failure'").fetchone()
    assert failures["n"] == statuses.count(400)


def test_parallel_logins_with_the_right_password_all_succeed(live_server, account):
    """Attempts still being checked hold the next ones back (the race above) but do not refuse them."""
    def attempt(_):
        return requests.post(f"{live_server.url}/api/auth/login", timeout=60,
                             json={"email": "victim@example.com", "password": "Right-Passw0rd!"}).status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        assert list(pool.map(attempt, range(12))) == [200] * 12


# --- every attempt per address: logins that succeed, registrations ----------------------------

def register(client, number, ip="198.51.100.30"):
    return client.post("/api/auth/register", environ_base={"REMOTE_ADDR": ip},
                       json={"name": "New", "email": f"new{number}@example.com", "password": "secret12"})


def test_logins_from_one_address_are_limited_even_when_they_succeed(client, account, sql):
    for _ in range(security.MAX_LOGINS_PER_ADDRESS):
        assert_signed_in(login(client, "victim@example.com", "Right-Passw0rd!", ip="198.51.100.40"))
    refused = login(client, "victim@example.com", "Right-Passw0rd!", ip="198.51.100.40")
    assert refused.status_code == 429
    assert error_of(refused).startswith("Too many logins from this address; try again in ")
    assert 0 < int(refused.headers["Retry-After"]) <= security.LOGIN_ATTEMPT_WINDOW_SECONDS
    assert_signed_in(login(client, "victim@example.com", "Right-Passw0rd!", ip="198.51.100.41"))
    assert sql.execute("SELECT count(*) AS n FROM auth_events WHERE event_type = 'login_success'"
                       ).fetchone()["n"] == security.MAX_LOGINS_PER_ADDRESS + 1


def test_logins_older_than_the_attempt_window_no_longer_count(client, account, factory):
    old = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=security.LOGIN_ATTEMPT_WINDOW_SECONDS + 5)
    for _ in range(security.MAX_LOGINS_PER_ADDRESS):
        factory.row("auth_events", event_type="login_success", email="victim@example.com", ip="198.51.100.42",
                    occurred_at=old)
    assert_signed_in(login(client, "victim@example.com", "Right-Passw0rd!", ip="198.51.100.42"))


def test_registrations_from_one_address_are_limited(client, sql):
    for number in range(security.MAX_REGISTRATIONS_PER_ADDRESS - 1):
        assert register(client, number).status_code == 200
    assert register(client, 0).get_json() == {"error": "Email used"}  # a refused attempt counts too
    refused = register(client, 99)
    assert refused.status_code == 429
    assert error_of(refused).startswith("Too many registrations from this address; try again in ")
    assert 0 < int(refused.headers["Retry-After"]) <= security.REGISTRATION_WINDOW_SECONDS
    assert sql.execute("SELECT count(*) AS n FROM users WHERE email = 'new99@example.com'").fetchone()["n"] == 0
    assert register(client, 99, ip="198.51.100.31").status_code == 200
    events = sql.execute(
        "SELECT event_type, details FROM auth_events WHERE ip = '198.51.100.30' ORDER BY id").fetchall()
    assert [e["event_type"] for e in events] == (
        ["register"] * (security.MAX_REGISTRATIONS_PER_ADDRESS - 1) + ["register_failure", "register_throttled"])
    assert events[-2]["details"] == {"reason": "Email used"}


def test_invalid_registrations_are_refused_before_the_limit_and_write_nothing(client, sql):
    for _ in range(security.MAX_REGISTRATIONS_PER_ADDRESS + 2):
        response = client.post("/api/auth/register", json={"name": "X", "email": "not-an-email", "password": "x"},
                               environ_base={"REMOTE_ADDR": "198.51.100.32"})
        assert response.status_code == 400
    assert sql.execute("SELECT count(*) AS n FROM auth_events").fetchone()["n"] == 0
    assert register(client, 1, ip="198.51.100.32").status_code == 200


# --- refusals are counted, not written one by one ------------------------------------------------

def test_refused_logins_from_one_address_add_one_row_with_their_count(client, account, factory, sql):
    admin = factory.user("admin")
    refusals = 100
    for number in range(security.MAX_FAILURES_PER_ADDRESS):
        assert_wrong_password(login(client, f"spray{number}@example.com", "guess", ip="198.51.100.50"))
    before = sql.execute("SELECT count(*) AS n FROM auth_events").fetchone()["n"]
    for number in range(refusals):
        assert_throttled(login(client, f"spray{number}@example.com", "guess", ip="198.51.100.50"))
    assert sql.execute("SELECT count(*) AS n FROM auth_events").fetchone()["n"] == before + 1

    log = client.get("/api/admin/security-log?eventType=login_throttled", headers=factory.headers(admin)).get_json()
    [event] = log["events"]
    assert (event["ip"], event["count"], event["email"]) == ("198.51.100.50", refusals, None)  # several emails
    assert event["lastTime"] >= event["time"]
    assert event["details"]["retryAfter"] > 0


def test_refusals_are_counted_per_address(client, account, sql):
    guesses = {"198.51.100.60": "victim@example.com", "198.51.100.61": "ghost@example.com"}
    for ip, email in guesses.items():
        for _ in range(security.MAX_FAILURES_PER_PAIR + 3):
            login(client, email, "guess", ip=ip)
    rows = sql.execute("SELECT ip, email, occurrences FROM auth_events WHERE event_type = 'login_throttled' "
                       "ORDER BY ip").fetchall()
    assert rows == [{"ip": ip, "email": email, "occurrences": 3} for ip, email in guesses.items()]


def test_parallel_attempts_from_one_address_get_at_most_the_limit(live_server, account, sql):
    """64 parallel logins with the right password were all answered (bcrypt held both cores)."""
    def log_in(_):
        return requests.post(f"{live_server.url}/api/auth/login", timeout=60,
                             json={"email": "victim@example.com", "password": "Right-Passw0rd!"}).status_code

    def register_one(number):
        return requests.post(f"{live_server.url}/api/auth/register", timeout=60, json={
            "name": "New", "email": f"parallel{number}@example.com", "password": "secret12"}).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        logins = list(pool.map(log_in, range(security.MAX_LOGINS_PER_ADDRESS + 16)))
        registrations = list(pool.map(register_one, range(security.MAX_REGISTRATIONS_PER_ADDRESS + 8)))

    assert (logins.count(200), logins.count(429)) == (security.MAX_LOGINS_PER_ADDRESS, 16)
    assert (registrations.count(200), registrations.count(429)) == (security.MAX_REGISTRATIONS_PER_ADDRESS, 8)
    assert sql.execute("SELECT count(*) AS n FROM users WHERE email LIKE 'parallel%'").fetchone()["n"] == (
        security.MAX_REGISTRATIONS_PER_ADDRESS)
    refusals = sql.execute("SELECT event_type, occurrences FROM auth_events WHERE refusal_window IS NOT NULL "
                           "ORDER BY event_type").fetchall()
    assert refusals == [{"event_type": "login_throttled", "occurrences": 16},
                        {"event_type": "register_throttled", "occurrences": 8}]
