"""Admin operations: security log, dashboard, run-time settings, seller performance;
and the maintenance switch that every request passes through."""

from __future__ import annotations

from flask import Blueprint, request
from flask_login import current_user

from cms import db
from cms.api.context import caller, forget_runtime_settings, runtime_settings
from cms.api.declare import ADMIN, declare
from cms.errors import Unavailable
from cms.schemas.admin_ops import (
    DashboardSchema,
    NotificationsPageSchema,
    PageQuery,
    PerformanceQuery,
    SecurityLogPageSchema,
    SecurityLogQuery,
    SellerPerformanceReportSchema,
    SettingsSchema,
    SettingsUpdateSchema,
)
from cms.services import notifications as notifications_service
from cms.services import reports as reports_service
from cms.services import security as security_service
from cms.services import settings as settings_service

bp = Blueprint("admin_ops", __name__, url_prefix="/api/admin")

# Reachable by everyone during maintenance: the health check and the login form (admins must log in).
MAINTENANCE_EXEMPT_PATHS = {"/ping", "/api/auth/login"}


@bp.before_app_request
def refuse_during_maintenance():
    req = request._get_current_object()  # every request passes here: one context lookup
    if req.method == "OPTIONS" or req.path.rstrip("/") in MAINTENANCE_EXEMPT_PATHS:
        return None
    settings = runtime_settings()
    if not settings.maintenance_enabled:
        return None
    if current_user.is_authenticated and current_user.role == "admin":
        return None
    raise Unavailable(settings.maintenance_message, {"maintenance": True})


@bp.get("/security-log")
@declare("Logins, registrations, role and activation changes", auth=ADMIN, query=SecurityLogQuery,
         response=SecurityLogPageSchema)
def security_log(query):
    events, total = security_service.security_log(db.connection(), query)
    return {"events": events, "pagination": {"limit": query["limit"], "offset": query["offset"], "total": total}}


@bp.get("/dashboard")
@declare("Users, listings and sales at a glance", auth=ADMIN, response=DashboardSchema)
def dashboard():
    return reports_service.dashboard(db.connection())


@bp.get("/settings")
@declare("Run-time settings (maintenance, discount)", auth=ADMIN, response=SettingsSchema)
def get_settings():
    return settings_service.get_settings(db.connection())


@bp.put("/settings")
@declare("Change run-time settings", auth=ADMIN, body=SettingsUpdateSchema, response=SettingsSchema)
def update_settings(body):
    updated = settings_service.update_settings(db.connection(), caller(), body,
                                               audit_details=SettingsUpdateSchema().dump(body))
    forget_runtime_settings()
    return updated


@bp.get("/sellers/<id:seller_id>/performance")
@declare("One seller's listings and sales by month", auth=ADMIN, query=PerformanceQuery,
         response=SellerPerformanceReportSchema)
def seller_performance(seller_id: int, query):
    return reports_service.seller_performance(db.connection(), seller_id, query["months"])


@bp.get("/notifications")
@declare("The notification outbox, newest first", auth=ADMIN, query=PageQuery, response=NotificationsPageSchema)
def recent_notifications(query):
    rows = notifications_service.recent(db.connection(), limit=query["limit"], offset=query["offset"])
    return {"notifications": rows, "pagination": query}
