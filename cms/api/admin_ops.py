"""Admin operations: security log, dashboard, run-time settings, seller performance;
and the maintenance switch that every request passes through."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_login import current_user

from cms import db
from cms.auth import roles_required
from cms.errors import AppError, Invalid, NotFound
from cms.repositories import admin_ops as ops_repo
from cms.repositories import outbox as outbox_repo
from cms.repositories import settings as settings_repo
from cms.repositories.audit import record_admin_action
from cms.schemas.admin_ops import (
    AuthEventSchema,
    MonthFigures,
    NotificationSchema,
    PageQuery,
    PerformanceQuery,
    SecurityLogQuery,
    SettingsSchema,
    SettingsUpdateSchema,
)
from cms.schemas.fields import load_json, load_query, money
from cms.services import settings as runtime_settings

bp = Blueprint("admin_ops", __name__, url_prefix="/api/admin")

# Reachable by everyone during maintenance: the health check and the login form (admins must log in).
MAINTENANCE_EXEMPT_PATHS = {"/ping", "/api/auth/login"}


@bp.before_app_request
def refuse_during_maintenance():
    if request.method == "OPTIONS" or request.path.rstrip("/") in MAINTENANCE_EXEMPT_PATHS:
        return None
    settings = runtime_settings.current()
    if not settings.maintenance_enabled:
        return None
    if current_user.is_authenticated and current_user.role == "admin":
        return None
    raise AppError(settings.maintenance_message, {"maintenance": True}, status=503)


@bp.get("/security-log")
@roles_required("admin")
def security_log():
    filters = load_query(SecurityLogQuery())
    if filters["start_at"] and filters["end_at"] and filters["start_at"] > filters["end_at"]:
        raise Invalid("startDate must not be after endDate")
    rows = ops_repo.list_auth_events(db.connection(), filters)
    total = rows[0]["total_count"] if rows else 0
    return jsonify({
        "events": AuthEventSchema(many=True).dump(rows),
        "pagination": {"limit": filters["limit"], "offset": filters["offset"], "total": total},
    })


@bp.get("/dashboard")
@roles_required("admin")
def dashboard():
    figures = ops_repo.dashboard_figures(db.connection())
    users_by_role = {role: 0 for role in ("user", "seller", "admin")} | figures["users_by_role"]
    return jsonify({
        "usersByRole": users_by_role,
        "totalUsers": sum(users_by_role.values()),
        "pendingListings": figures["pending_listings"],
        "listingsByStatus": figures["listings_by_status"],
        "sales": {
            "today": {"count": figures["today_count"], "revenue": money(figures["today_revenue"])},
            "last30Days": {
                "count": figures["last30_count"],
                "revenue": money(figures["last30_revenue"]),
            },
        },
    })


@bp.get("/settings")
@roles_required("admin")
def get_settings():
    return jsonify(SettingsSchema().dump(settings_repo.get_settings(db.connection())))


@bp.put("/settings")
@roles_required("admin")
def update_settings():
    changes = load_json(SettingsUpdateSchema())
    with db.transaction() as conn:
        current = settings_repo.lock_settings(conn)
        merged = {**current, **changes}
        starts, ends = merged["discount_starts_at"], merged["discount_ends_at"]
        if starts and ends and starts >= ends:
            raise Invalid("The discount must start before it ends",
                          {"discountEndsAt": ["Must be after discountStartsAt."]})
        updated = settings_repo.update_settings(conn, merged, current_user.id)
        record_admin_action(
            conn, admin_id=current_user.id, action_type="update_settings", target_id=None,
            details=SettingsUpdateSchema().dump(changes),
        )
    runtime_settings.forget_cached()
    return jsonify(SettingsSchema().dump(updated))


@bp.get("/sellers/<id:seller_id>/performance")
@roles_required("admin")
def seller_performance(seller_id: int):
    months = load_query(PerformanceQuery())["months"]
    totals, monthly = ops_repo.seller_performance(db.connection(), seller_id, months)
    if totals is None or totals["role"] != "seller":
        raise NotFound("Seller not found")
    listings = totals["total_listings"]
    return jsonify({
        "sellerId": totals["seller_id"],
        "name": totals["name"],
        "email": totals["email"],
        "totalListings": listings,
        "approvedListings": totals["approved_listings"],
        "approvalRate": round(totals["approved_listings"] / listings, 4) if listings else 0,
        "salesCount": totals["sales_count"],
        "salesValue": money(totals["sales_value"]),
        "monthly": MonthFigures(many=True).dump(monthly),
    })


@bp.get("/notifications")
@roles_required("admin")
def recent_notifications():
    page = load_query(PageQuery())
    rows = outbox_repo.list_recent(db.connection(), page["limit"], page["offset"])
    return jsonify({"notifications": NotificationSchema(many=True).dump(rows), "pagination": page})
