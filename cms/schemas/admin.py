"""Admin console bodies, query strings and responses (users, sellers, audit log, sales report)."""

from __future__ import annotations

import datetime as dt
import re

from marshmallow import EXCLUDE, RAISE, ValidationError, fields, post_load, pre_load, validate, validates_schema

from cms.errors import Invalid
from cms.schemas.admin_ops import PaginationSchema
from cms.schemas.fields import MAX_INT4, Email, InputSchema, Money, OutputSchema, StrictBoolean, Text, UtcDateTime
from cms.schemas.users import ROLES, SellerSchema

# Admin-created accounts (POST /api/admin/users): at least 8 characters, like
# seller passwords, but without the character-class rule (the contract only
# asks it for sellers). Registration keeps its own, older minimum of 6.
ADMIN_PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_BYTES = 72  # bcrypt's limit (cms.services.passwords.MAX_BYTES)

ACTIONS_DEFAULT_LIMIT = 50
ACTIONS_MAX_LIMIT = 200

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _not_blank(value: str) -> None:
    if not value:
        raise ValidationError("Must not be empty.")


def _name_field(**kwargs):
    return Text(max_length=255, validate=_not_blank, **kwargs)


def _password_bytes(value: str) -> None:
    if len(value.encode("utf-8")) > PASSWORD_MAX_BYTES:
        raise ValidationError(f"Must be at most {PASSWORD_MAX_BYTES} bytes long.")


# --- requests ----------------------------------------------------------------------

class CreateUserSchema(InputSchema):
    """POST /api/admin/users: {name, email, password, role}. Extra keys of the form are ignored."""

    class Meta:
        unknown = EXCLUDE

    name = _name_field(required=True)
    email = Email(required=True)
    password = fields.String(required=True, validate=[
        validate.Length(min=ADMIN_PASSWORD_MIN_LENGTH,
                        error=f"Must be at least {ADMIN_PASSWORD_MIN_LENGTH} characters long."),
        _password_bytes,
    ])
    role = fields.String(required=True, validate=validate.OneOf(ROLES, error="Must be admin, seller or user."))

    def handle_error(self, error, data, *, many, **kwargs):
        """The contract's sentence for a bad role (details stay)."""
        if isinstance(error.messages, dict) and "role" in error.messages:
            raise Invalid("Invalid role", error.messages)


class CreateSellerSchema(InputSchema):
    """POST /api/admin/sellers. An empty or missing password means "generate one"."""

    class Meta:
        unknown = EXCLUDE

    name = _name_field(required=True)
    email = Email(required=True)
    password = fields.String(allow_none=True, load_default=None)
    phone = Text(max_length=50, allow_none=True, load_default=None)
    address = Text(max_length=2000, allow_none=True, load_default=None)

    @post_load
    def _blank_means_missing(self, data, **kwargs):
        if not data.get("password"):
            data["password"] = None
        for key in ("phone", "address"):
            if data.get(key) == "":
                data[key] = None
        return data


class UpdateUserSchema(InputSchema):
    """PATCH /api/admin/users/:id: only these five fields; any other key is refused."""

    class Meta:
        unknown = RAISE

    is_active = StrictBoolean(data_key="isActive")
    role = fields.String(validate=validate.OneOf(ROLES, error="Must be admin, seller or user."))
    name = _name_field()
    phone = Text(max_length=50, allow_none=True)
    address = Text(max_length=2000, allow_none=True)

    @validates_schema
    def _something_to_change(self, data, **kwargs):
        if not data:
            raise ValidationError("Send at least one of isActive, role, name, phone, address.", "_schema")

    def handle_error(self, error, data, *, many, **kwargs):
        """Say which keys cannot be changed here, or that nothing was sent (details stay)."""
        messages = error.messages if isinstance(error.messages, dict) else {}
        refused = sorted(key for key, value in messages.items() if value == ["Unknown field."])
        if refused:
            raise Invalid(
                f"These fields cannot be changed here: {', '.join(refused)} "
                "(allowed: isActive, role, name, phone, address)",
                error.messages,
            )
        if set(messages) == {"_schema"}:
            raise Invalid("Nothing to change: send isActive, role, name, phone or address", error.messages)


class TimeBound(fields.Field):
    """A date (YYYY-MM-DD) or an ISO-8601 date-time; offsets are converted to UTC, none means UTC."""

    default_error_messages = {
        "invalid": "Must be a date (YYYY-MM-DD) or an ISO-8601 date-time such as 2024-05-01T12:00:00Z.",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise self.make_error("invalid")
        text = value.strip()
        try:
            if _DATE_ONLY.match(text):
                return dt.date.fromisoformat(text)
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            raise self.make_error("invalid") from None
        if moment.tzinfo is not None:
            try:
                moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
            except OverflowError:  # e.g. 0001-01-01T00:00+01:00 falls before year 1 in UTC
                raise self.make_error("invalid") from None
        return moment


def _lower_bound(value: dt.date | dt.datetime | None) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.combine(value, dt.time.min)


def _exclusive_upper_bound(value: dt.date | dt.datetime | None) -> dt.datetime | None:
    """endDate is inclusive: a date covers its whole day, a date-time its exact microsecond."""
    if value is None:
        return None
    try:
        if isinstance(value, dt.datetime):
            return value + dt.timedelta(microseconds=1)  # timestamp columns hold microseconds
        return dt.datetime.combine(value + dt.timedelta(days=1), dt.time.min)
    except OverflowError:  # 9999-12-31: nothing is later
        return None


class ActionsQuerySchema(InputSchema):
    """GET /api/admin/actions query string. Empty values (a cleared filter) count as absent."""

    class Meta:
        unknown = EXCLUDE

    action_type = Text(data_key="actionType", max_length=50, load_default=None)
    start_date = TimeBound(data_key="startDate", load_default=None)
    end_date = TimeBound(data_key="endDate", load_default=None)
    limit = fields.Integer(load_default=ACTIONS_DEFAULT_LIMIT, validate=validate.Range(
        min=1, max=ACTIONS_MAX_LIMIT, error=f"Must be between 1 and {ACTIONS_MAX_LIMIT}."))
    offset = fields.Integer(load_default=0, validate=validate.Range(
        min=0, max=MAX_INT4, error=f"Must be between 0 and {MAX_INT4}."))

    @pre_load
    def _drop_empty(self, data, **kwargs):
        return {key: value for key, value in data.items() if not (isinstance(value, str) and not value.strip())}

    @post_load
    def _bounds(self, data, **kwargs):
        start, before = _lower_bound(data["start_date"]), _exclusive_upper_bound(data["end_date"])
        if start is not None and before is not None and start >= before:
            raise ValidationError("Must not be after endDate.", "startDate")
        data["created_from"] = start
        data["created_before"] = before
        return data


# --- responses ---------------------------------------------------------------------

class AdminActionSchema(OutputSchema):
    """An audit log entry; rows come from the admin_list_actions query."""

    id = fields.Integer()
    admin_id = fields.Integer(data_key="adminId", allow_none=True)
    action_type = fields.String(data_key="actionType", allow_none=True)
    target_id = fields.Integer(data_key="targetId", allow_none=True)
    details = fields.Raw(allow_none=True)
    created_at = UtcDateTime(data_key="createdAt")
    admin = fields.Method("_admin")
    target_user = fields.Method("_target_user", data_key="targetUser")

    def _admin(self, row):
        if row["admin_user_id"] is None:
            return None
        return {"id": row["admin_user_id"], "name": row["admin_name"], "email": row["admin_email"]}

    def _target_user(self, row):
        if row["target_user_id"] is None:
            return None
        return {
            "id": row["target_user_id"],
            "name": row["target_user_name"],
            "email": row["target_user_email"],
            "role": row["target_user_role"],
        }


class SellerPerformanceSchema(OutputSchema):
    """A row of sellerPerformance (sellerId is new; the old fields stay)."""

    id = fields.Integer(data_key="sellerId")
    name = fields.String()
    sales = fields.Integer()
    revenue = Money()
    listings = fields.Integer()


class RecentTransactionSchema(OutputSchema):
    """A row of recentTransactions (carId, buyerId and status are new)."""

    id = fields.Integer()
    car = fields.String()
    price = Money()
    date = UtcDateTime()
    buyer = fields.String()
    car_id = fields.Integer(data_key="carId", allow_none=True)
    buyer_id = fields.Integer(data_key="buyerId", allow_none=True)
    status = fields.String()


class SalesReportSchema(OutputSchema):
    """GET /api/admin/reports/sales."""

    total_revenue = Money(data_key="totalRevenue")
    total_sales = fields.Integer(data_key="totalSales")
    seller_performance = fields.List(fields.Nested(SellerPerformanceSchema), data_key="sellerPerformance")
    recent_transactions = fields.List(fields.Nested(RecentTransactionSchema), data_key="recentTransactions")


class ActionsPageSchema(OutputSchema):
    """GET /api/admin/actions: a page of the audit log."""

    actions = fields.List(fields.Nested(AdminActionSchema))
    pagination = fields.Nested(PaginationSchema)


class SellerCreatedSchema(OutputSchema):
    """POST /api/admin/sellers; temporaryPassword and note only when the password was generated."""

    message = fields.String(required=True)
    seller = fields.Nested(SellerSchema, required=True)
    temporaryPassword = fields.String()
    note = fields.String()
