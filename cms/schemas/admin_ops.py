"""Security log, dashboard, settings and seller performance."""

from __future__ import annotations

import datetime as dt

from marshmallow import ValidationError, fields, validate, validates_schema

from cms.schemas.fields import InputSchema, LoginEmail, Money, OutputSchema, StrictBoolean, Text, UtcDateTime

AUTH_EVENT_TYPES = (
    "login_success", "login_failure", "login_throttled", "register", "register_failure", "register_throttled",
    "role_change", "activation_change",
)


class UtcTimestamp(fields.DateTime):
    """An ISO date or date-time; aware values are converted to naive UTC (the columns hold UTC)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and len(value.strip()) == 10:
            try:
                return dt.datetime.combine(dt.date.fromisoformat(value.strip()), dt.time())
            except ValueError:
                raise self.make_error("invalid", input=value, obj_type="datetime") from None
        moment = super()._deserialize(value, attr, data, **kwargs)
        if moment.tzinfo is not None:
            try:
                moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
            except OverflowError:  # e.g. 0001-01-01T00:00+01:00 falls before year 1 in UTC
                raise self.make_error("invalid", input=value, obj_type="datetime") from None
        return moment


class PageQuery(InputSchema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=1_000_000))


class SecurityLogQuery(PageQuery):
    eventType = fields.String(attribute="event_type", load_default=None,
                              validate=validate.OneOf(AUTH_EVENT_TYPES))
    email = LoginEmail(load_default=None)
    ip = fields.String(load_default=None, validate=validate.Length(max=64))
    startDate = UtcTimestamp(attribute="start_at", load_default=None)
    endDate = UtcTimestamp(attribute="end_at", load_default=None)


class AuthEventSchema(OutputSchema):
    id = fields.Integer()
    occurred_at = UtcDateTime(data_key="time")
    event_type = fields.String(data_key="eventType")
    user_id = fields.Integer(data_key="userId", allow_none=True)
    email = fields.String(allow_none=True)
    ip = fields.String(allow_none=True)
    user_agent = fields.String(data_key="userAgent", allow_none=True)
    details = fields.Raw()
    occurrences = fields.Integer(data_key="count", metadata={
        "description": "1 for an event; refusals (login_throttled, register_throttled) of one address "
                       "within 15 minutes are one event with their count"})
    last_occurred_at = UtcDateTime(data_key="lastTime", allow_none=True, metadata={
        "description": "The latest of a count of refusals (time is the first); null for an event"})


class SettingsSchema(OutputSchema):
    maintenance_enabled = fields.Boolean(data_key="maintenanceEnabled")
    maintenance_message = fields.String(data_key="maintenanceMessage")
    discount_percent = Money(data_key="discountPercent")
    discount_label = fields.String(data_key="discountLabel", allow_none=True)
    discount_starts_at = UtcDateTime(data_key="discountStartsAt")
    discount_ends_at = UtcDateTime(data_key="discountEndsAt")
    updated_at = UtcDateTime(data_key="updatedAt")
    updated_by = fields.Integer(data_key="updatedBy", allow_none=True)


class SettingsUpdateSchema(InputSchema):
    maintenanceEnabled = StrictBoolean(attribute="maintenance_enabled")
    maintenanceMessage = Text(attribute="maintenance_message", max_length=500,
                              validate=validate.Length(min=1, error="Must not be empty."))
    discountPercent = Money(attribute="discount_percent")
    discountLabel = Text(attribute="discount_label", max_length=100, allow_none=True)
    discountStartsAt = UtcTimestamp(attribute="discount_starts_at", allow_none=True)
    discountEndsAt = UtcTimestamp(attribute="discount_ends_at", allow_none=True)

    @validates_schema
    def _discount_range(self, data, **kwargs):
        percent = data.get("discount_percent")
        if percent is not None and percent > 90:
            raise ValidationError("Must be between 0 and 90.", field_name="discountPercent")


class PerformanceQuery(InputSchema):
    months = fields.Integer(load_default=12, validate=validate.Range(min=1, max=60))


class MonthFigures(OutputSchema):
    month = fields.String()
    listings = fields.Integer()
    sales = fields.Integer()
    revenue = Money()


class NotificationSchema(OutputSchema):
    id = fields.Integer()
    kind = fields.String()
    message = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    next_attempt_at = UtcDateTime(data_key="nextAttemptAt")
    last_error = fields.String(data_key="lastError", allow_none=True)
    telegram_message_id = fields.Integer(data_key="telegramMessageId", allow_none=True)
    created_at = UtcDateTime(data_key="createdAt")
    sent_at = UtcDateTime(data_key="sentAt")


class PaginationSchema(OutputSchema):
    limit = fields.Integer()
    offset = fields.Integer()
    total = fields.Integer()


class SecurityLogPageSchema(OutputSchema):
    events = fields.List(fields.Nested(AuthEventSchema))
    pagination = fields.Nested(PaginationSchema)


class NotificationsPageSchema(OutputSchema):
    notifications = fields.List(fields.Nested(NotificationSchema))
    pagination = fields.Nested(PaginationSchema)


class SalesFiguresSchema(OutputSchema):
    count = fields.Integer()
    revenue = Money()


class DashboardSalesSchema(OutputSchema):
    today = fields.Nested(SalesFiguresSchema)
    last30_days = fields.Nested(SalesFiguresSchema, data_key="last30Days")


class DashboardSchema(OutputSchema):
    """GET /api/admin/dashboard."""

    users_by_role = fields.Dict(keys=fields.String(), values=fields.Integer(), data_key="usersByRole")
    total_users = fields.Integer(data_key="totalUsers")
    pending_listings = fields.Integer(data_key="pendingListings")
    listings_by_status = fields.Dict(keys=fields.String(), values=fields.Integer(), data_key="listingsByStatus")
    sales = fields.Nested(DashboardSalesSchema)


class SellerPerformanceReportSchema(OutputSchema):
    """GET /api/admin/sellers/:id/performance."""

    seller_id = fields.Integer(data_key="sellerId")
    name = fields.String()
    email = fields.String()
    total_listings = fields.Integer(data_key="totalListings")
    approved_listings = fields.Integer(data_key="approvedListings")
    # a share from 0 to 1, rounded to 4 places (0 without listings): dumped as computed
    approval_rate = fields.Raw(data_key="approvalRate", metadata={"type": "number"})
    sales_count = fields.Integer(data_key="salesCount")
    sales_value = Money(data_key="salesValue")
    monthly = fields.List(fields.Nested(MonthFigures))
