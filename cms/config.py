"""Settings read from the environment (and from a `.env` file when present)."""

from __future__ import annotations

import logging
import math
import os
import re
import secrets
from dataclasses import dataclass, field, fields, replace

from dotenv import load_dotenv

log = logging.getLogger(__name__)

MIN_SECRET_BYTES = 32
MIN_BCRYPT_ROUNDS = 10
# session: a direct server or session pooling; transaction: behind a transaction pooler (PgBouncer).
POOL_MODES = ("session", "transaction")
# An ALLOWED_HOSTS entry: a host name (international ones in their xn-- form), an IPv4 or a
# bracketed IPv6 address, an optional port; "*." or "." in front for every subdomain (and the name).
ALLOWED_HOST = re.compile(r"(?:\*?\.)?(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?", re.ASCII)


class ConfigError(Exception):
    """A setting is missing or invalid; the service must not start."""


def _int(name: str, default: int, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name} must be at most {maximum}, got {value}")
    return value


def _float(name: str, default: float, minimum: float | None = None) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {raw!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be at least {minimum:g}, got {raw}")
    return value


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


@dataclass(frozen=True)
class Settings:
    """Every tunable of the service; see .env.example for what each one means."""

    env: str = "production"
    database_url: str = ""
    port: int = 4000
    web_workers: int = 2  # worker processes of `python -m cms.server`
    web_threads: int = 4  # Python threads per worker that run requests
    host: str = ""  # HOST; empty: `cms serve` binds 127.0.0.1, `python -m cms.server` (production) 0.0.0.0
    jwt_secret: str = ""
    jwt_expires_in: int = 24 * 3600
    cors_origins: tuple[str, ...] = ("*",)
    pool_min_size: int = 2
    pool_max_size: int = 10
    pool_timeout: float = 5.0
    statement_timeout_ms: int = 15000
    max_request_bytes: int = 60 * 1024 * 1024
    # How long a client may take (cms/asgi.py): to send a request body, to pause while sending it,
    # and to leave a piece of the answer untaken.
    request_body_timeout: float = 60.0
    request_body_idle_timeout: float = 10.0
    response_stall_timeout: float = 30.0
    bcrypt_rounds: int = 10
    public_base_url: str = ""
    log_level: str = "INFO"
    telegram_enabled: bool = False
    telegram_bot_token: str = ""
    telegram_chat_id: str = ""
    telegram_api_url: str = "https://api.telegram.org"
    notifications_worker_thread: bool = True
    trusted_proxies: int = 0
    allowed_hosts: tuple[str, ...] = ()
    # Scale-out (docs/scaling.md): "transaction" behind a transaction pooler (PgBouncer);
    # session tools (migrations, backup, demo data) then need the direct URL.
    db_pool_mode: str = "session"
    database_direct_url: str = ""
    database_replica_urls: tuple[str, ...] = ()
    replica_max_lag_seconds: float = 5.0
    idempotency_key_ttl_hours: int = 24  # how long a stored answer to an Idempotency-Key is replayed
    extra: dict = field(default_factory=dict)

    @property
    def stream_idle_timeout_ms(self) -> int:
        """PostgreSQL's backstop for a streamed answer's transaction: twice the server's stall timeout."""
        return int(self.response_stall_timeout * 2000)

    @property
    def is_development(self) -> bool:
        return self.env in {"development", "test"}

    def with_overrides(self, **overrides) -> Settings:
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
        return replace(self, **overrides)


def load_settings(dotenv_path: str | None = None) -> Settings:
    """Read the settings from the environment; a `.env` file fills the gaps."""
    load_dotenv(dotenv_path or os.path.join(os.getcwd(), ".env"), override=False)
    origins = os.environ.get("CORS_ORIGINS", "*").strip() or "*"
    return Settings(
        env=os.environ.get("APP_ENV", "production").strip().lower() or "production",
        database_url=os.environ.get("DATABASE_URL", "").strip(),
        port=_int("PORT", 4000, minimum=1, maximum=65535),
        web_workers=_int("WEB_WORKERS", 2, minimum=1, maximum=64),
        web_threads=_int("WEB_THREADS", 4, minimum=1, maximum=256),
        host=os.environ.get("HOST", "").strip(),
        jwt_secret=os.environ.get("JWT_SECRET", ""),
        jwt_expires_in=_int("JWT_EXPIRES_IN", 24 * 3600, minimum=60),
        cors_origins=tuple(o.strip() for o in origins.split(",") if o.strip()),
        pool_min_size=_int("DB_POOL_MIN", 2, minimum=0),
        pool_max_size=_int("DB_POOL_MAX", 10, minimum=1),
        pool_timeout=_float("DB_POOL_TIMEOUT", 5.0, minimum=0.1),
        statement_timeout_ms=_int("DB_STATEMENT_TIMEOUT_MS", 15000, minimum=0),
        max_request_bytes=_int("MAX_REQUEST_BYTES", 60 * 1024 * 1024, minimum=1024),
        request_body_timeout=_float("REQUEST_BODY_TIMEOUT", 60.0, minimum=0.1),
        request_body_idle_timeout=_float("REQUEST_BODY_IDLE_TIMEOUT", 10.0, minimum=0.1),
        response_stall_timeout=_float("RESPONSE_STALL_TIMEOUT", 30.0, minimum=0.1),
        bcrypt_rounds=_int("BCRYPT_ROUNDS", 10, minimum=MIN_BCRYPT_ROUNDS),
        public_base_url=os.environ.get("PUBLIC_BASE_URL", "").strip().rstrip("/"),
        log_level=os.environ.get("LOG_LEVEL", "INFO").strip().upper() or "INFO",
        telegram_enabled=_bool("TELEGRAM_ENABLED", False),
        telegram_bot_token=os.environ.get("TELEGRAM_BOT_TOKEN", "").strip(),
        telegram_chat_id=os.environ.get("TELEGRAM_CHAT_ID", "").strip(),
        telegram_api_url=os.environ.get("TELEGRAM_API_URL", "https://api.telegram.org").strip().rstrip("/"),
        notifications_worker_thread=_bool("NOTIFICATIONS_WORKER_THREAD", True),
        trusted_proxies=_int("TRUSTED_PROXIES", 0, minimum=0, maximum=10),
        allowed_hosts=tuple(h.strip().lower() for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()),
        db_pool_mode=os.environ.get("DB_POOL_MODE", "session").strip().lower() or "session",
        database_direct_url=os.environ.get("DATABASE_DIRECT_URL", "").strip(),
        database_replica_urls=tuple(
            url.strip() for url in os.environ.get("DATABASE_REPLICA_URL", "").split(",") if url.strip()
        ),
        replica_max_lag_seconds=_float("DB_REPLICA_MAX_LAG_SECONDS", 5.0, minimum=0.0),
        idempotency_key_ttl_hours=_int("IDEMPOTENCY_KEY_TTL_HOURS", 24, minimum=1, maximum=24 * 30),
    )


def validate(settings: Settings) -> Settings:
    """Refuse unsafe settings; in development, fill in a throw-away JWT secret."""
    if not settings.database_url:
        raise ConfigError("DATABASE_URL is not set (e.g. postgresql://user@127.0.0.1:5432/cms)")
    if settings.pool_min_size > settings.pool_max_size:
        raise ConfigError("DB_POOL_MIN must not exceed DB_POOL_MAX")
    if settings.bcrypt_rounds < MIN_BCRYPT_ROUNDS:
        raise ConfigError(f"BCRYPT_ROUNDS must be at least {MIN_BCRYPT_ROUNDS}")
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
    for host in settings.allowed_hosts:
        if not ALLOWED_HOST.fullmatch(host.lower()):
            raise ConfigError(
                f"ALLOWED_HOSTS: {host!r} is not a host name (e.g. cars.example.com, or *.example.com for "
                "every subdomain; international names in their xn-- form)")
    if settings.db_pool_mode not in POOL_MODES:
        raise ConfigError(f"DB_POOL_MODE must be session or transaction, got {settings.db_pool_mode!r}")
    if settings.log_level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {settings.log_level!r}")
    return settings


def validate_for_serving(settings: Settings) -> None:
    """Outside development, absolute links (image URLs) must not be built from the request's Host
    header, which any client writes: PUBLIC_BASE_URL or an ALLOWED_HOSTS allow-list is required."""
    if not settings.is_development and not settings.public_base_url and not settings.allowed_hosts:
        raise ConfigError(
            "PUBLIC_BASE_URL (e.g. https://cars.example.com) or ALLOWED_HOSTS (comma-separated host names) "
            "must be set outside development: image links would otherwise echo any client's Host header"
        )
