"""Settings read from the environment (and from a `.env` file when present).

Each setting is declared once, as a field of `Settings`: its type (the annotation), its default,
its environment variable, its validation and the sentence the README's table shows
(`cms docs settings` writes that table; tests/test_config.py checks the README against it).
environs reads the variables (the environment wins over `.env`) and parses each one with a
marshmallow field built from the declaration; `validate()` applies the same validators to
settings given in code (create_app's overrides), so a rule is written in one place.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import Field, dataclass, field, fields, replace

import marshmallow as ma
from dotenv import dotenv_values
from environs import Env, EnvValidationError
from marshmallow.validate import OneOf, Range

log = logging.getLogger(__name__)

MIN_SECRET_BYTES = 32
MIN_BCRYPT_ROUNDS = 10
APP_ENVS = ("development", "test", "production")
DEVELOPMENT_ENVS = ("development", "test")
# session: a direct server or session pooling; transaction: behind a transaction pooler (PgBouncer).
POOL_MODES = ("session", "transaction")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# An ALLOWED_HOSTS entry: a host name (international ones in their xn-- form), an IPv4 or a
# bracketed IPv6 address, an optional port; "*." or "." in front for every subdomain (and the name).
ALLOWED_HOST = re.compile(r"(?:\*?\.)?(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?", re.ASCII)
README_TABLE_START = "<!-- settings: generated from cms/config.py by `cms docs settings` -->"
README_TABLE_END = "<!-- end of settings -->"


class ConfigError(Exception):
    """A setting is missing or invalid; the service must not start."""


# --- how a declaration becomes a marshmallow field ---------------------------------------

class _Blank:
    """A value of only spaces (`PORT=` in .env) counts as unset: the setting keeps its default."""

    def __init__(self, *args, normalize: Callable[[str], str] | None = None, strip: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.normalize, self.strip = normalize, strip

    def deserialize(self, value, attr=None, data=None, **kwargs):
        if isinstance(value, str):
            if not value.strip():
                value = ma.missing
            else:
                value = value.strip() if self.strip else value
                value = self.normalize(value) if self.normalize else value
        return super().deserialize(value, attr, data, **kwargs)


class _Text(_Blank, ma.fields.String):
    pass


class _Whole(_Blank, ma.fields.Integer):
    pass


class _Number(_Blank, ma.fields.Float):
    pass


class _Flag(_Blank, ma.fields.Boolean):
    def __init__(self, *args, **kwargs):
        kwargs["normalize"] = str.lower
        super().__init__(*args, truthy={"1", "true", "yes", "on"}, falsy={"0", "false", "no", "off"}, **kwargs)


class _Items(_Blank, ma.fields.Field):
    """A comma-separated list: each item stripped (and normalized), empty items dropped."""

    def __init__(self, *args, item: Callable[[str], str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.item = item

    def _deserialize(self, value, attr, data, **kwargs):
        items = (part.strip() for part in str(value).split(","))
        return tuple(self.item(part) if self.item else part for part in items if part)


# The parser of each annotation of Settings, registered on environs by that name.
_PARSERS = {"str": _Text, "int": _Whole, "float": _Number, "bool": _Flag, "tuple[str, ...]": _Items}
_TYPE_ERRORS = {
    "int": {"invalid": "{variable} must be a whole number, got {{input!r}}"},
    "float": {"invalid": "{variable} must be a number, got {{input!r}}",
              "special": "{variable} must be a finite number"},
    "bool": {"invalid": "{variable} must be true or false, got {{input!r}}"},
}


def setting(variable: str, default, meaning: str, *, minimum: float | None = None, maximum: float | None = None,
            choices: tuple[str, ...] | None = None, check: Callable | None = None,
            normalize: Callable[[str], str] | None = None, item: Callable[[str], str] | None = None,
            strip: bool = True, shown: str | None = None) -> Field:
    """One setting: the environment variable, its default, what it means (the README's words),
    and its rules: bounds, allowed values, a check of its own, how a value is normalized."""
    validators = []
    if minimum is not None:
        validators.append(Range(min=minimum, error=f"{variable} must be at least {minimum:g}, got {{input}}"))
    if maximum is not None:
        validators.append(Range(max=maximum, error=f"{variable} must be at most {maximum:g}, got {{input}}"))
    if choices is not None:
        validators.append(OneOf(choices, error=f"{variable} must be {_or(choices)}, got {{input!r}}"))
    if check is not None:
        validators.append(check)
    options = {"normalize": normalize, "strip": strip}
    if item is not None:
        options["item"] = item
    return field(default=default, metadata={
        "variable": variable, "meaning": meaning, "validators": tuple(validators), "options": options,
        "shown": shown,
    })


def _or(choices: tuple[str, ...]) -> str:
    return ", ".join(choices[:-1]) + f" or {choices[-1]}" if len(choices) > 1 else choices[0]


def _ip_address(value: str) -> None:
    if value:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ma.ValidationError(
                f"HOST must be an IP address to listen on (e.g. 127.0.0.1, 0.0.0.0 or ::), got {value!r}") from None


def _allowed_hosts(hosts: tuple[str, ...]) -> None:
    for host in hosts:
        if not ALLOWED_HOST.fullmatch(host.lower()):
            raise ma.ValidationError(
                f"ALLOWED_HOSTS: {host!r} is not a host name (e.g. cars.example.com, or *.example.com for "
                "every subdomain; international names in their xn-- form)")


def _networks(entries: tuple[str, ...]) -> None:
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ma.ValidationError(
                f"METRICS_ALLOW: {entry!r} is not an address or network (e.g. 10.0.0.0/8)") from None


def _no_trailing_slash(value: str) -> str:
    return value.rstrip("/")


@dataclass(frozen=True)
class Settings:
    """Every tunable of the service, declared once (see the module docstring)."""

    env: str = setting(
        "APP_ENV", "production",
        "`development`, `test` or `production` (anything else stops start-up). `development` and `test` relax "
        "the JWT secret rule (a random secret with a warning) and let `cms serve` pick a database by itself. "
        "`make run` sets `development`.", choices=APP_ENVS, normalize=str.lower)
    database_url: str = setting(
        "DATABASE_URL", "", "libpq URL, e.g. `postgresql://cms@db.example:5432/cms`.", shown="— (required)")
    port: int = setting(
        "PORT", 4000, "HTTP port (the legacy frontend calls `http://localhost:4000`). A port another process "
        "listens on stops start-up.", minimum=1, maximum=65535)
    web_workers: int = setting(
        "WEB_WORKERS", 2, "Worker processes of `python -m cms.server` (granian).", minimum=1, maximum=64)
    web_threads: int = setting(
        "WEB_THREADS", 4, "Python threads per worker that run requests.", minimum=1, maximum=256)
    car_detail_lane: bool = setting(
        "CAR_DETAIL_LANE", True, "Answer anonymous `GET /api/cars/:id` beneath Flask (`cms/api/car_detail_lane.py`: "
        "the same answer and headers in about half the instructions); `false`: through Flask like every other route, "
        "whose hooks a change may add to.")
    host: str = setting(
        "HOST", "", "IP address to listen on. Unset: `127.0.0.1` for `cms serve`/`make run` (development), "
        "`0.0.0.0` for `python -m cms.server` (production).", check=_ip_address)
    jwt_secret: str = setting(
        "JWT_SECRET", "", "HS256 key, at least 32 bytes; outside development a missing or short one stops "
        "start-up.", strip=False)
    jwt_expires_in: int = setting("JWT_EXPIRES_IN", 24 * 3600, "Token lifetime in seconds.", minimum=60)
    cors_origins: tuple[str, ...] = setting("CORS_ORIGINS", ("*",), "Comma-separated allowed origins.")
    pool_min_size: int = setting("DB_POOL_MIN", 2, "Fewest connections per process.", minimum=0)
    pool_max_size: int = setting("DB_POOL_MAX", 10, "Most connections per process.", minimum=1)
    pool_timeout: float = setting(
        "DB_POOL_TIMEOUT", 5.0, "Seconds a request waits for a connection before a 503. A pooled connection "
        "the server dropped (failover, PgBouncer restart, `pg_terminate_backend`) is found when lent and "
        "replaced at once (`bench/pool_recovery.py`).", minimum=0.1)
    statement_timeout_ms: int = setting(
        "DB_STATEMENT_TIMEOUT_MS", 15000, "Server-side limit per statement.", minimum=0)
    max_request_bytes: int = setting(
        "MAX_REQUEST_BYTES", 60 * 1024 * 1024, "Larger bodies get 413 (ten 5 MB images fit).", minimum=1024)
    # How long a client may take (cms/asgi.py): to send a request body, to pause while sending it,
    # and to leave a piece of the answer untaken.
    request_body_timeout: float = setting(
        "REQUEST_BODY_TIMEOUT", 60.0,
        "Seconds a request body may take in all; then 408 ([docs/serving.md](docs/serving.md)).", minimum=0.1)
    request_body_idle_timeout: float = setting(
        "REQUEST_BODY_IDLE_TIMEOUT", 10.0, "Seconds a request body may pause; then 408.", minimum=0.1)
    response_stall_timeout: float = setting(
        "RESPONSE_STALL_TIMEOUT", 30.0, "Seconds a client may take no byte of an answer; then it is cut off.",
        minimum=0.1)
    bcrypt_rounds: int = setting(
        "BCRYPT_ROUNDS", 10, f"bcrypt cost for new hashes (at least {MIN_BCRYPT_ROUNDS}).", minimum=MIN_BCRYPT_ROUNDS)
    public_base_url: str = setting(
        "PUBLIC_BASE_URL", "", "Base of absolute image URLs. Outside development this or `ALLOWED_HOSTS` is "
        "required (start-up stops otherwise): image links must not echo a client's `Host` header.",
        normalize=_no_trailing_slash)
    idempotency_key_ttl_hours: int = setting(
        "IDEMPOTENCY_KEY_TTL_HOURS", 24, "How long the first answer to a POST sent with an `Idempotency-Key` is "
        "replayed to its retries ([docs/scaling.md](docs/scaling.md#5-high-availability-failover-client-retries-"
        "rolling-restarts)).", minimum=1, maximum=24 * 30)
    log_level: str = setting("LOG_LEVEL", "INFO", "Python log level.", choices=LOG_LEVELS, normalize=str.upper)
    log_format: str = setting(
        "LOG_FORMAT", "text", "`text` (one line per record) or `json` (one object per line: time, level, logger, "
        "message, pid and, for the request log, method, path, query, route, status, duration to the last byte, "
        "request id, user id, client; `cms/logging_setup.py`).", choices=("text", "json"), normalize=str.lower)
    metrics_allow: tuple[str, ...] = setting(
        "METRICS_ALLOW", ("127.0.0.1", "::1"), "Comma-separated addresses and networks (CIDR) that may read "
        "`GET /metrics`; anyone else gets a 404.", check=_networks)
    telegram_enabled: bool = setting("TELEGRAM_ENABLED", False, "Notifications of new inquiries and payments.")
    telegram_bot_token: str = setting("TELEGRAM_BOT_TOKEN", "", "The Telegram bot sending them.")
    telegram_chat_id: str = setting("TELEGRAM_CHAT_ID", "", "The Telegram chat receiving them.")
    telegram_api_url: str = setting(
        "TELEGRAM_API_URL", "https://api.telegram.org", "Telegram's Bot API.", normalize=_no_trailing_slash)
    notifications_worker_thread: bool = setting(
        "NOTIFICATIONS_WORKER_THREAD", True,
        "Deliver queued notifications from a thread of each web process (when Telegram is configured).")
    trusted_proxies: int = setting(
        "TRUSTED_PROXIES", 0, "Reverse proxies in front of the service whose `X-Forwarded-*` headers are trusted "
        "(client address for the login throttle and security log).", minimum=0, maximum=10)
    allowed_hosts: tuple[str, ...] = setting(
        "ALLOWED_HOSTS", (), "Comma-separated host names the service answers to, compared without case "
        "(`Cars.Example.com` is `cars.example.com`); "
        "`*.example.com` (or werkzeug's `.example.com`) allows every subdomain and `example.com` itself. Any "
        "other `Host` is a 400; an entry that can never match (`*`, `good.*.example`, spaces) stops start-up. "
        "International names in their `xn--` form. Without `PUBLIC_BASE_URL`, image links use the request's "
        "(allowed) host, lower-cased.", item=str.lower, check=_allowed_hosts)
    # Scale-out (docs/scaling.md): "transaction" behind a transaction pooler (PgBouncer);
    # session tools (migrations, backup, demo data) then need the direct URL.
    db_pool_mode: str = setting(
        "DB_POOL_MODE", "session", "`session`: a direct server or session pooling. `transaction`: behind a "
        "transaction pooler (PgBouncer): no server-side prepared statements, and the session settings must be "
        "role settings (checked at start-up; [docs/scaling.md](docs/scaling.md)).",
        choices=POOL_MODES, normalize=str.lower)
    database_direct_url: str = setting(
        "DATABASE_DIRECT_URL", "", "PostgreSQL itself, for what needs a session: migrations, seed, "
        "backup/restore, demo data. Required for them when `DB_POOL_MODE=transaction`.", shown="`DATABASE_URL`")
    database_replica_urls: tuple[str, ...] = setting(
        "DATABASE_REPLICA_URL", (), "Streaming replicas (comma-separated): anonymous, lag-tolerant reads (car "
        "lists, search, car detail, images, reviews) go there; a signed-in user's reads only once the replica "
        "has replayed their last write.")
    replica_max_lag_seconds: float = setting(
        "DB_REPLICA_MAX_LAG_SECONDS", 5.0,
        "A replica further behind than this is skipped (reads go to another replica or the primary).", minimum=0.0)

    @property
    def stream_idle_timeout_ms(self) -> int:
        """PostgreSQL's backstop for a streamed answer's transaction: twice the server's stall timeout."""
        return int(self.response_stall_timeout * 2000)

    @property
    def is_development(self) -> bool:
        return self.env in DEVELOPMENT_ENVS

    def with_overrides(self, **overrides) -> Settings:
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
        return replace(self, **overrides)


def declarations() -> list[tuple[Field, str]]:
    """Each field of Settings with its annotation ('int', 'tuple[str, ...]', …)."""
    return [(declared, str(declared.type)) for declared in fields(Settings)]


def _dotenv_path(dotenv_path: str | None = None) -> str:
    return dotenv_path or os.path.join(os.getcwd(), ".env")


def is_given(variable: str, dotenv_path: str | None = None) -> bool:
    """Whether the environment or the `.env` file sets the variable (to more than spaces)."""
    value = os.environ.get(variable)
    if value is None and os.path.isfile(_dotenv_path(dotenv_path)):
        value = dotenv_values(_dotenv_path(dotenv_path)).get(variable)
    return bool(value and value.strip())


def load_settings(dotenv_path: str | None = None) -> Settings:
    """Read the settings from the environment; a `.env` file (in the working directory) fills the gaps."""
    env = Env(eager=True)
    env.read_env(_dotenv_path(dotenv_path), recurse=False)
    for name, field_class in _PARSERS.items():
        env.add_parser_from_field(_parser_name(name), field_class)
    values = {}
    for declared, kind in declarations():
        meta = declared.metadata
        errors = {key: message.format(variable=meta["variable"]) for key, message in _TYPE_ERRORS.get(kind, {}).items()}
        parse = getattr(env, _parser_name(kind))
        try:
            values[declared.name] = parse(meta["variable"], declared.default, validate=list(meta["validators"]),
                                          error_messages=errors, **meta["options"])
        except EnvValidationError as error:
            raise ConfigError(_first_message(error.error_messages)) from None
    return Settings(**values)


def _parser_name(kind: str) -> str:
    return "setting_" + re.sub(r"\W+", "_", kind).strip("_")


def _first_message(messages) -> str:
    while isinstance(messages, (list, tuple, dict)):
        messages = next(iter(messages.values() if isinstance(messages, dict) else messages))
    return str(messages)


def _check_declared(settings: Settings) -> None:
    """The declared rules, applied to settings however they were made (environment or code)."""
    for declared, _ in declarations():
        value = getattr(settings, declared.name)
        for validator in declared.metadata["validators"]:
            try:
                validator(value)
            except ma.ValidationError as error:
                raise ConfigError(_first_message(error.messages)) from None


def validate(settings: Settings) -> Settings:
    """Refuse unsafe settings; in development, fill in a throw-away JWT secret."""
    _check_declared(settings)
    if not settings.database_url:
        raise ConfigError("DATABASE_URL is not set (e.g. postgresql://user@127.0.0.1:5432/cms)")
    if settings.pool_min_size > settings.pool_max_size:
        raise ConfigError("DB_POOL_MIN must not exceed DB_POOL_MAX")
    if len(settings.jwt_secret.encode()) < MIN_SECRET_BYTES:
        if not settings.is_development:
            raise ConfigError(
                f"JWT_SECRET must be set to at least {MIN_SECRET_BYTES} bytes outside development "
                "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        log.warning(
            "JWT_SECRET is missing or shorter than %d bytes: using a random one for this process "
            "(tokens will not survive a restart; never do this in production)",
            MIN_SECRET_BYTES,
        )
        settings = replace(settings, jwt_secret=secrets.token_urlsafe(48))
    return settings


def validate_for_serving(settings: Settings) -> None:
    """Outside development, absolute links (image URLs) must not be built from the request's Host
    header, which any client writes: PUBLIC_BASE_URL or an ALLOWED_HOSTS allow-list is required."""
    if not settings.is_development and not settings.public_base_url and not settings.allowed_hosts:
        raise ConfigError(
            "PUBLIC_BASE_URL (e.g. https://cars.example.com) or ALLOWED_HOSTS (comma-separated host names) "
            "must be set outside development: image links would otherwise echo any client's Host header"
        )


# --- the README's table -----------------------------------------------------------------

def _shown_default(value) -> str:
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, tuple):
        value = ",".join(value)
    if isinstance(value, float):
        value = f"{value:g}"
    return f"`{value}`" if value != "" else "—"


def settings_table() -> str:
    """The README's Configuration table, one row per setting, from the declarations."""
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for declared, _ in declarations():
        meta = declared.metadata
        shown = meta["shown"] or _shown_default(declared.default)
        rows.append(f"| `{meta['variable']}` | {shown} | {meta['meaning']} |")
    return "\n".join(rows)


def readme_with_table(readme: str) -> str:
    """The README with the text between the settings markers replaced by settings_table()."""
    start, end = readme.index(README_TABLE_START), readme.index(README_TABLE_END)
    return readme[:start] + README_TABLE_START + "\n" + settings_table() + "\n" + readme[end:]

