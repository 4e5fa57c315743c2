"""One structured line per request, a request id echoed back, and no secrets in the log."""

import io
import logging
import re
import sys
import unicodedata

import pytest

LINE = re.compile(
    r"^request method=(?P<method>\S+) path=(?P<path>\S+) status=(?P<status>\d+) "
    r"duration_ms=(?P<duration>[\d.]+) request_id=(?P<request_id>\S+) user_id=(?P<user_id>\S+)$"
)


def _request_lines(caplog):
    return [LINE.match(r.getMessage()) for r in caplog.records if r.name == "cms.request"]


def test_each_request_logs_one_line_with_method_path_status_duration_id_and_user(client, factory, caplog):
    caplog.set_level(logging.INFO)
    user = factory.user("user")
    response = client.get("/api/users/profile", headers=factory.headers(user))
    [line] = _request_lines(caplog)
    assert line is not None
    assert (line["method"], line["path"], line["status"]) == ("GET", "/api/users/profile", "200")
    assert float(line["duration"]) >= 0
    assert line["user_id"] == str(user["id"])
    assert line["request_id"] == response.headers["X-Request-Id"]


def test_a_clean_incoming_request_id_is_kept_and_a_hostile_one_replaced(client):
    assert client.get("/ping", headers={"X-Request-Id": "lb-1234.abc"}).headers["X-Request-Id"] == "lb-1234.abc"
    replaced = client.get("/ping", headers={"X-Request-Id": "evil user_id=1 status=200"}).headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", replaced)


def test_a_login_never_logs_the_password_or_the_token(client, factory, caplog):
    caplog.set_level(logging.DEBUG)
    user = factory.user("user", password="Sup3r-Secret-Passw0rd!")
    ok = client.post("/api/auth/login", json={"email": user["email"], "password": "Sup3r-Secret-Passw0rd!"})
    bad = client.post("/api/auth/login", json={"email": user["email"], "password": "Wrong-Secret-Passw0rd!"})
    assert ok.status_code == 200 and bad.status_code == 400
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "login" in logged
    assert "Secret-Passw0rd" not in logged
    assert ok.get_json()["token"] not in logged
    assert "password" not in logged.lower()


def _service_log_output(client, path, **kwargs) -> str:
    """What the service's own log handler (cms.logging_setup) writes while answering one request."""
    [handler] = [h for h in logging.getLogger().handlers if getattr(h, "_cms", False)]
    written = io.StringIO()
    previous = handler.setStream(written)
    try:
        client.get(path, **kwargs)
    finally:
        handler.setStream(previous)
    return written.getvalue()


FORGED = "2026-01-01 00:00:00,000 ERROR cms.forged admin logged in"


@pytest.mark.parametrize("path", [
    "/nope%0a" + FORGED.replace(" ", "%20"),
    "/nope%0d%0a" + FORGED.replace(" ", "%20"),
    "/nope%e2%80%a8" + FORGED.replace(" ", "%20"),  # U+2028, a line break to some log viewers
    "/nope%1b[2J%0b%0c%c2%85" + FORGED.replace(" ", "%20"),  # a terminal escape, VT, FF, NEL
])
def test_control_characters_in_a_logged_value_cannot_forge_a_log_line(client, caplog, path):
    caplog.set_level(logging.INFO)
    output = _service_log_output(client, path)
    [line] = output.splitlines()  # str.splitlines breaks at every one of the characters above
    assert line.split(" ")[2:5] == ["INFO", "cms.request", "request"]
    assert "path=/nope\\" in line and FORGED in line
    assert not any(unicodedata.category(char) == "Cc" for char in line)


def test_a_traceback_stays_below_its_line(caplog):
    """The lines of a logged exception are indented: none of them can pass for a record of its own."""
    [handler] = [h for h in logging.getLogger().handlers if getattr(h, "_cms", False)]
    try:
        raise ValueError("bad value\n" + FORGED)
    except ValueError:
        record = logging.getLogger("cms.test").makeRecord("cms.test", logging.ERROR, __file__, 1,
                                                           "failed for %s", ("x\ny",), sys.exc_info())
    first, *rest = handler.format(record).split("\n")
    assert first.endswith("ERROR cms.test failed for x\\ny")
    assert rest and all(line.startswith("    ") for line in rest)
