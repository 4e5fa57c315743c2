"""Settings from the environment and a .env file; unsafe or malformed settings stop start-up."""

from __future__ import annotations

import logging
import os
import re

import pytest

from cms import create_app
from cms.api.tokens import issue_token
from cms.config import ConfigError, Settings, declarations, load_settings, readme_with_table, validate
from cms.db import ROOT

ENV_EXAMPLE = (ROOT / ".env.example").read_text()
README = (ROOT / "README.md").read_text()
READ_BY_CONFIG = {declared.metadata["variable"] for declared, _ in declarations()}
DOCUMENTED = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", ENV_EXAMPLE, re.MULTILINE))
GOOD_SECRET = "s" * 40


@pytest.fixture
def environment(monkeypatch, tmp_path):
    """No configuration variable set, and a working directory without a .env file."""
    for name in READ_BY_CONFIG | DOCUMENTED:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_env_example_documents_every_setting():
    assert READ_BY_CONFIG, "no setting found in cms/config.py"
    assert READ_BY_CONFIG <= DOCUMENTED, f"missing from .env.example: {sorted(READ_BY_CONFIG - DOCUMENTED)}"


def test_the_readme_settings_table_is_the_declarations():
    assert len(READ_BY_CONFIG) == len(declarations()) >= 30
    assert readme_with_table(README) == README, "README.md's settings table is stale: run `cms docs settings`"
    table = README[README.index("| Variable | Default | Meaning |"):README.index("<!-- end of settings -->")]
    assert set(re.findall(r"^\| `([A-Z_]+)` \|", table, re.MULTILINE)) == READ_BY_CONFIG


def test_a_setting_declared_with_a_default_of_the_wrong_type_would_be_seen():
    """Each declaration's default has the type of its annotation (the parsers are chosen by it)."""
    types = {"str": str, "int": int, "float": float, "bool": bool, "tuple[str, ...]": tuple}
    for declared, kind in declarations():
        assert type(declared.default) is types[kind], declared.name


def test_defaults(environment):
    settings = load_settings()
    assert settings.port == 4000
    assert settings.env == "production"
    assert settings.database_url == ""
    assert settings.jwt_expires_in == 86400
    assert settings.cors_origins == ("*",)
    assert (settings.pool_min_size, settings.pool_max_size, settings.pool_timeout) == (2, 10, 5.0)
    assert settings.max_request_bytes == 60 * 1024 * 1024
    assert settings.bcrypt_rounds == 10
    assert settings.telegram_enabled is False
    assert settings == Settings()


def test_a_dotenv_file_is_honoured_and_the_environment_wins(environment, tmp_path):
    (tmp_path / ".env").write_text(
        "PORT=4321\n"
        f"JWT_SECRET={GOOD_SECRET}\n"
        "DATABASE_URL=postgresql://someone@db.example:5432/cms\n"
        "CORS_ORIGINS=http://a.example, http://b.example\n"
        "DB_POOL_MAX=7\n"
        "TELEGRAM_ENABLED=yes\n"
        "APP_ENV=Development\n"
    )
    environment.setenv("DB_POOL_MAX", "3")

    settings = load_settings()

    assert settings.port == 4321
    assert settings.jwt_secret == GOOD_SECRET
    assert settings.database_url == "postgresql://someone@db.example:5432/cms"
    assert settings.cors_origins == ("http://a.example", "http://b.example")
    assert settings.pool_max_size == 3
    assert settings.telegram_enabled is True
    assert settings.env == "development" and settings.is_development


@pytest.mark.parametrize(("name", "value", "message"), [
    ("PORT", "abc", "PORT must be a whole number, got 'abc'"),
    ("PORT", "4000.5", "PORT must be a whole number"),
    ("PORT", "0", "PORT must be at least 1"),
    ("PORT", "70000", "PORT must be at most 65535"),
    ("DB_POOL_MAX", "0", "DB_POOL_MAX must be at least 1"),
    ("DB_POOL_MIN", "-1", "DB_POOL_MIN must be at least 0"),
    ("DB_POOL_TIMEOUT", "soon", "DB_POOL_TIMEOUT must be a number, got 'soon'"),
    ("DB_POOL_TIMEOUT", "0", "DB_POOL_TIMEOUT must be at least"),
    ("DB_POOL_TIMEOUT", "nan", "DB_POOL_TIMEOUT must be a finite number"),
    ("JWT_EXPIRES_IN", "1h", "JWT_EXPIRES_IN must be a whole number"),
    ("MAX_REQUEST_BYTES", "10", "MAX_REQUEST_BYTES must be at least 1024"),
    ("BCRYPT_ROUNDS", "4", "BCRYPT_ROUNDS must be at least 10"),
    ("TELEGRAM_ENABLED", "maybe", "TELEGRAM_ENABLED must be true or false"),
    ("WEB_WORKERS", "abc", "WEB_WORKERS must be a whole number, got 'abc'"),
    ("APP_ENV", "prod", "APP_ENV must be development, test or production, got 'prod'"),
    ("APP_ENV", "staging", "APP_ENV must be development, test or production, got 'staging'"),
    ("HOST", "999.1.1.1", "HOST must be an IP address to listen on (e.g. 127.0.0.1, 0.0.0.0 or ::), got '999.1.1.1'"),
    ("HOST", "localhost", "HOST must be an IP address"),
    ("LOG_LEVEL", "loud", "LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got 'LOUD'"),
    ("DB_POOL_MODE", "statement", "DB_POOL_MODE must be session or transaction, got 'statement'"),
    ("ALLOWED_HOSTS", "good.example,*", "ALLOWED_HOSTS: '*' is not a host name"),
])
def test_malformed_values_are_a_config_error_naming_the_variable(environment, name, value, message):
    environment.setenv(name, value)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert message in str(raised.value)


@pytest.mark.parametrize(("name", "value", "attribute", "expected"), [
    ("APP_ENV", " Production ", "env", "production"),
    ("APP_ENV", "TEST", "env", "test"),
    ("HOST", "::", "host", "::"),
    ("HOST", " 10.1.2.3 ", "host", "10.1.2.3"),
    ("PORT", "  ", "port", 4000),
    ("TELEGRAM_ENABLED", "On", "telegram_enabled", True),
    ("NOTIFICATIONS_WORKER_THREAD", "no", "notifications_worker_thread", False),
    ("PUBLIC_BASE_URL", "https://cars.example/ ", "public_base_url", "https://cars.example"),
    ("LOG_LEVEL", "debug", "log_level", "DEBUG"),
    ("CORS_ORIGINS", "", "cors_origins", ("*",)),
    ("DATABASE_REPLICA_URL", " postgresql://a/x , ,postgresql://b/x", "database_replica_urls",
     ("postgresql://a/x", "postgresql://b/x")),
    ("DB_POOL_TIMEOUT", "0.5", "pool_timeout", 0.5),
])
def test_well_formed_values_are_read_and_normalized(environment, name, value, attribute, expected):
    environment.setenv(name, value)
    assert getattr(load_settings(), attribute) == expected


def test_reading_a_dotenv_file_leaves_the_process_environment_alone(environment, tmp_path):
    (tmp_path / ".env").write_text("PORT=4321\n")
    assert load_settings().port == 4321
    assert "PORT" not in os.environ


def test_a_malformed_value_in_dotenv_is_a_config_error_at_create_app(environment, tmp_path):
    (tmp_path / ".env").write_text("PORT=four thousand\n")
    with pytest.raises(ConfigError, match="PORT must be a whole number"):
        create_app()


def good(**changes) -> Settings:
    values = {"env": "production", "database_url": "postgresql://x@127.0.0.1/cms", "jwt_secret": GOOD_SECRET}
    values.update(changes)
    return Settings(**values)


@pytest.mark.parametrize("secret", ["", "short", "x" * 31])
def test_a_missing_or_short_jwt_secret_stops_start_up_outside_development(database_url, secret):
    with pytest.raises(ConfigError, match="JWT_SECRET"):
        create_app({"env": "production", "database_url": database_url, "jwt_secret": secret})


def test_in_development_a_missing_secret_is_generated_with_a_warning(make_app, caplog, factory):
    caplog.set_level(logging.WARNING)
    app = make_app(env="development", jwt_secret="")

    secret = app.config["CMS_SETTINGS"].jwt_secret
    assert len(secret.encode()) >= 32
    assert any(r.levelno == logging.WARNING and "JWT_SECRET" in r.getMessage() for r in caplog.records)
    other = make_app(env="development", jwt_secret="")
    assert other.config["CMS_SETTINGS"].jwt_secret != secret
    user = factory.user()
    with app.app_context():
        token = issue_token(user)
    response = app.test_client().get("/api/users/profile", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_other_unsafe_combinations_are_refused():
    assert validate(good()).jwt_secret == GOOD_SECRET
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        validate(good(database_url=""))
    with pytest.raises(ConfigError, match="DB_POOL_MIN"):
        validate(good(pool_min_size=5, pool_max_size=2))
    with pytest.raises(ConfigError, match="LOG_LEVEL"):
        validate(good(log_level="LOUD"))
    with pytest.raises(ConfigError, match="APP_ENV must be development, test or production, got 'prod'"):
        validate(good(env="prod"))
    with pytest.raises(ConfigError, match="PORT must be at most 65535"):
        validate(good(port=70000))
    with pytest.raises(ConfigError, match="unknown settings: colour"):
        good().with_overrides(colour="blue")


def test_outside_development_image_links_never_come_from_the_host_header(database_url):
    """Issue 13: without PUBLIC_BASE_URL, a client's Host header ended up in image links."""
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
        create_app({"env": "production", "database_url": database_url, "jwt_secret": GOOD_SECRET})


@pytest.mark.parametrize(("host", "status"), [
    ("good.example", 200), ("GOOD.EXAMPLE", 200), ("Good.Example:4000", 200),
    ("x.good.example", 200), ("X.Good.Example", 200), ("a.b.good.example", 200),
    ("evil.example", 400), ("xgood.example", 400), ("good.example.evil", 400), ("good.examplex", 400),
])
def test_allowed_hosts_take_the_star_form_and_compare_without_case(make_app, host, status):
    client = make_app(env="production", allowed_hosts=("good.example", "*.Good.Example")).test_client()
    response = client.get("/ping", headers={"Host": host})
    assert (response.status_code, response.is_json) == (status, True)


def test_allowed_hosts_check_a_forwarded_host_without_case(make_app):
    client = make_app(env="production", allowed_hosts=("*.good.example",), trusted_proxies=1).test_client()
    assert client.get("/ping", headers={"X-Forwarded-Host": "SHOP.good.example"}).status_code == 200
    assert client.get("/ping", headers={"X-Forwarded-Host": "shop.evil.example"}).status_code == 400


def test_environment_allowed_hosts_are_read_in_either_subdomain_form(environment):
    environment.setenv("ALLOWED_HOSTS", " Good.Example , *.good.example,.other.example ")
    assert load_settings().allowed_hosts == ("good.example", "*.good.example", ".other.example")


@pytest.mark.parametrize("entry", ["*", "*good.example", "good.*.example", "good.example/", "good example"])
def test_an_allowed_host_that_can_never_match_stops_start_up(database_url, entry):
    with pytest.raises(ConfigError, match="ALLOWED_HOSTS"):
        create_app({"env": "production", "database_url": database_url, "jwt_secret": GOOD_SECRET,
                    "allowed_hosts": ("good.example", entry)})


def test_an_allowed_hosts_list_refuses_other_host_headers(make_app, factory):
    seller = factory.user("seller")
    car = factory.car(seller)
    image = factory.row("car_images", car_id=car["id"], image_url=None, is_primary=True, display_order=0)
    factory.row("car_image_files", image_id=image["id"], content_type="image/jpeg", content=b"x", byte_size=1,
                width=1, height=1, etag="e")
    client = make_app(env="production", allowed_hosts=("cms.example.com",)).test_client()

    forged = client.get("/api/cars", headers={"Host": "evil.example"})
    allowed = client.get("/api/cars", headers={"Host": "cms.example.com"})

    assert forged.status_code == 400 and forged.get_json()["error"]
    assert allowed.status_code == 200
    assert allowed.get_json()[0]["primaryImage"]["imageUrl"].startswith("http://cms.example.com/api/cars/")
