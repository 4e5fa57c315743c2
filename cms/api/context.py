"""What services need from the request, read here so that services never touch Flask:
the caller, the run-time settings of this request, the base of public URLs."""

from __future__ import annotations

from flask import current_app, g, request
from flask_login import current_user

from cms import db
from cms.services import settings as settings_service
from cms.services.security import Client
from cms.services.settings import RuntimeSettings


def caller():
    """The authenticated user (id, role, name, email, row), or None."""
    return current_user._get_current_object() if current_user.is_authenticated else None


def settings_cache_of(app) -> settings_service.SettingsCache:
    """The process's copy of the run-time settings (one per app)."""
    return app.extensions.setdefault("cms.settings_cache", settings_service.SettingsCache())


def _settings_cache() -> settings_service.SettingsCache:
    return settings_cache_of(current_app)


def runtime_settings() -> RuntimeSettings:
    """The run-time settings (at most CACHE_SECONDS old); one value for the whole request."""
    state = g._get_current_object()
    settings = state.get("runtime_settings")
    if settings is None:
        settings = state.runtime_settings = _settings_cache().get(db.connection())
    return settings


def forget_runtime_settings() -> None:
    """After this process changed the settings: the next request reads them again."""
    _settings_cache().forget()


def public_base_url() -> str:
    """PUBLIC_BASE_URL when configured, else the scheme and host the request came to."""
    configured = current_app.config["CMS_SETTINGS"].public_base_url
    return (configured or request.host_url).rstrip("/")


def cursor_secret() -> str:
    """The key that signs list cursors (cms.services.cursors): the service's JWT secret."""
    return current_app.config["CMS_SETTINGS"].jwt_secret


def caller_ip() -> str:
    """The client's address: the peer, or what TRUSTED_PROXIES trusted proxies said (ProxyFix).

    X-Forwarded-For itself is never read here: a client can write anything into it."""
    return request.remote_addr or ""


def client() -> Client:
    """The client's address (caller_ip) and user agent, for the security log."""
    return Client(ip=caller_ip(), user_agent=request.headers.get("User-Agent", ""))


def bcrypt_rounds() -> int:
    return current_app.config["CMS_SETTINGS"].bcrypt_rounds
