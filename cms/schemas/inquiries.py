"""Inquiries: the buyer's request body, the seller's status change, the inquiry as shown."""

from __future__ import annotations

import datetime as dt
import re

from marshmallow import EXCLUDE, fields, post_load, validate

from cms.errors import Invalid
from cms.schemas.fields import Id, InputSchema, OutputSchema, Text, UtcDateTime

INQUIRY_STATUSES = ("open", "responded", "closed")
INQUIRY_TYPES = ("general", "test_drive")
MAX_MESSAGE_LENGTH = 5000
MAX_RESPONSE_LENGTH = 5000
# How far ahead a test drive can be requested.
MAX_DAYS_AHEAD = 366
# "Today" differs by time zone; a date is in the past only once it is over everywhere (UTC-12).
EARLIEST_UTC_OFFSET = dt.timedelta(hours=12)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class InquirySchema(OutputSchema):
    """{id, carId, userId, sellerId, message, status, type, requestedDate, response, createdAt, updatedAt}."""

    id = fields.Integer()
    car_id = fields.Integer(data_key="carId", allow_none=True)
    user_id = fields.Integer(data_key="userId", allow_none=True)
    seller_id = fields.Integer(data_key="sellerId", allow_none=True)
    message = fields.String(allow_none=True)
    status = fields.String()
    type = fields.String()
    requested_date = fields.Date(data_key="requestedDate", allow_none=True)
    response = fields.String(allow_none=True)
    created_at = UtcDateTime(data_key="createdAt")
    updated_at = UtcDateTime(data_key="updatedAt")


def earliest_allowed_date(now: dt.datetime | None = None) -> dt.date:
    """The first date that is not yet over in every time zone."""
    now = now or dt.datetime.now(dt.UTC)
    return (now - EARLIEST_UTC_OFFSET).date()


def parse_requested_date(value) -> dt.date:
    """A test-drive date: "YYYY-MM-DD", not in the past, at most about a year ahead; Invalid otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise Invalid(
            "Please choose a date for the test drive",
            {"requestedDate": ["A test drive needs a date (YYYY-MM-DD)."]},
        )
    if not isinstance(value, str) or not _DATE.match(value.strip()):
        raise Invalid(
            "The test drive date must be a date like 2030-06-30",
            {"requestedDate": ["Not a date in the form YYYY-MM-DD."]},
        )
    try:
        date = dt.date.fromisoformat(value.strip())
    except ValueError:
        raise Invalid(
            "The test drive date is not a real calendar date",
            {"requestedDate": ["Not a valid date."]},
        ) from None
    earliest = earliest_allowed_date()
    if date < earliest:
        raise Invalid("The test drive date is in the past", {"requestedDate": ["Must be today or later."]})
    if date > earliest + dt.timedelta(days=MAX_DAYS_AHEAD):
        raise Invalid(
            "The test drive date is too far ahead (at most one year)",
            {"requestedDate": ["Must be within one year."]},
        )
    return date


class InquiryCreateSchema(InputSchema):
    """POST /api/inquiries: {carId, message, type, requestedDate}.

    `type` defaults to general (missing or null). `requestedDate` matters only for
    a test drive, which needs one; a general inquiry stores no date (the form may
    send a stale or empty one). Keys the client cannot set (userId, sellerId,
    status...) are ignored.
    """

    class Meta:
        unknown = EXCLUDE

    car_id = Id(data_key="carId", required=True)
    message = Text(required=True, max_length=MAX_MESSAGE_LENGTH,
                   validate=validate.Length(min=1, error="Must not be empty."))
    type = fields.String(load_default="general", allow_none=True,
                         validate=validate.OneOf(INQUIRY_TYPES, error="Must be general or test_drive."))
    requested_date = fields.Raw(data_key="requestedDate", load_default=None, allow_none=True)

    @post_load
    def _date_for_test_drives(self, data, **kwargs):
        data["type"] = data.get("type") or "general"
        if data["type"] == "test_drive":
            data["requested_date"] = parse_requested_date(data.get("requested_date"))
        else:
            data["requested_date"] = None
        return data

    def handle_error(self, error, data, *, many, **kwargs):
        """A sentence for the person instead of "Invalid input: ..." (details stay)."""
        _raise_readable(error, CREATE_FIELD_MESSAGES)


class InquiryStatusSchema(InputSchema):
    """PATCH /api/seller/inquiries/:id: {status, response?}; `response` null clears it."""

    class Meta:
        unknown = EXCLUDE

    status = fields.String(required=True, validate=validate.OneOf(
        INQUIRY_STATUSES, error="Must be open, responded or closed."))
    response = Text(max_length=MAX_RESPONSE_LENGTH, allow_none=True)

    def handle_error(self, error, data, *, many, **kwargs):
        """A sentence for the person instead of "Invalid input: ..." (details stay)."""
        _raise_readable(error, STATUS_FIELD_MESSAGES)


CREATE_FIELD_MESSAGES = {
    "carId": "carId must be a car id (a positive whole number)",
    "message": f"Please write a message (at most {MAX_MESSAGE_LENGTH} characters)",
    "type": "The inquiry type must be general or test_drive",
}
STATUS_FIELD_MESSAGES = {
    "status": "The status must be open, responded or closed",
    "response": f"The response must be text of at most {MAX_RESPONSE_LENGTH} characters",
}


def _raise_readable(error, messages: dict) -> None:
    details = error.messages if isinstance(error.messages, dict) else {}
    for key, message in messages.items():
        if key in details:
            raise Invalid(message, details)
