"""Reports from real orders: the seller's weekly report and the admin's sales report."""

from __future__ import annotations

from psycopg import Connection

from cms.errors import NotFound
from cms.repositories import admin as admin_repo
from cms.repositories import admin_ops as ops_repo
from cms.repositories import orders as orders_repo
from cms.services.access import Caller, is_admin

REPORT_WEEKS = 12


def seller_report(conn: Connection, caller: Caller, weeks: int = REPORT_WEEKS) -> dict:
    """Totals and the last `weeks` ISO weeks of the caller's paid and completed orders (an admin's:
    everyone's), empty weeks included."""
    seller_id = None if is_admin(caller) else caller.id
    totals = orders_repo.report_totals(conn, seller_id)
    return {
        "total_revenue": totals["total_revenue"],
        "total_sales": totals["total_sales"],
        "weekly_data": orders_repo.report_weekly(conn, seller_id, weeks),
    }


def sales_report(conn: Connection) -> dict:
    """Totals, each seller's performance and the latest transactions (admin)."""
    totals = admin_repo.sales_totals(conn)
    return {
        "total_revenue": totals["total_revenue"],
        "total_sales": totals["total_sales"],
        "seller_performance": admin_repo.seller_performance(conn),
        "recent_transactions": admin_repo.recent_transactions(conn),
    }


def dashboard(conn: Connection) -> dict:
    """Users by role, listings by status, pending listings, sales today and over 30 days."""
    figures = ops_repo.dashboard_figures(conn)
    users_by_role = {role: 0 for role in ("user", "seller", "admin")} | figures["users_by_role"]
    return {
        "users_by_role": users_by_role,
        "total_users": sum(users_by_role.values()),
        "pending_listings": figures["pending_listings"],
        "listings_by_status": figures["listings_by_status"],
        "sales": {
            "today": {"count": figures["today_count"], "revenue": figures["today_revenue"]},
            "last30_days": {"count": figures["last30_count"], "revenue": figures["last30_revenue"]},
        },
    }


def seller_performance(conn: Connection, seller_id: int, months: int) -> dict:
    """One seller's listings, approval rate and sales, in total and by month; 404 for a non-seller."""
    totals, monthly = ops_repo.seller_performance(conn, seller_id, months)
    if totals is None or totals["role"] != "seller":
        raise NotFound("Seller not found")
    listings = totals["total_listings"]
    return {
        "seller_id": totals["seller_id"],
        "name": totals["name"],
        "email": totals["email"],
        "total_listings": listings,
        "approved_listings": totals["approved_listings"],
        "approval_rate": round(totals["approved_listings"] / listings, 4) if listings else 0,
        "sales_count": totals["sales_count"],
        "sales_value": totals["sales_value"],
        "monthly": monthly,
    }
