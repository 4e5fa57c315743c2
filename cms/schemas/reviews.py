"""Reviews: the request body and the review as shown."""

from __future__ import annotations

from marshmallow import EXCLUDE, fields, pre_load, validate

from cms.errors import Invalid
from cms.schemas.fields import Id, InputSchema, OutputSchema, StrictInteger, Text, UtcDateTime

MISSING_FIELDS = "Missing required fields"
MAX_COMMENT_LENGTH = 5000
REQUIRED_KEYS = ("carId", "rating", "comment")


class ReviewSchema(OutputSchema):
    """{id, carId, userId, userName, rating, comment, createdAt}; userName is never null."""

    id = fields.Integer()
    car_id = fields.Integer(data_key="carId", allow_none=True)
    user_id = fields.Integer(data_key="userId", allow_none=True)
    user_name = fields.String(data_key="userName")
    rating = fields.Integer(allow_none=True)
    comment = fields.String(allow_none=True)
    created_at = UtcDateTime(data_key="createdAt")


class ReviewCreateSchema(InputSchema):
    """POST /api/reviews: {carId, rating, comment}, all three required; rating an integer 1-5."""

    class Meta:
        unknown = EXCLUDE

    car_id = Id(data_key="carId", required=True)
    rating = StrictInteger(required=True, validate=validate.Range(
        min=1, max=5, error="Must be a whole number from 1 to 5."))
    comment = Text(required=True, max_length=MAX_COMMENT_LENGTH)

    @pre_load
    def _all_fields_present(self, data, **kwargs):
        # The contract names this exact message for an absent, null or blank field.
        missing = [key for key in REQUIRED_KEYS
                   if data.get(key) is None or (isinstance(data.get(key), str) and not data[key].strip())]
        if missing:
            raise Invalid(MISSING_FIELDS, {key: ["Missing data for required field."] for key in missing})
        return data

    def handle_error(self, error, data, *, many, **kwargs):
        """Give the person a sentence instead of "Invalid input: rating" (details stay)."""
        details = error.messages if isinstance(error.messages, dict) else {}
        for key, message in FIELD_MESSAGES.items():
            if key in details:
                raise Invalid(message, details)


FIELD_MESSAGES = {
    "rating": "Rating must be a whole number from 1 to 5",
    "carId": "carId must be a car id (a positive whole number)",
    "comment": f"The comment must be text of at most {MAX_COMMENT_LENGTH} characters",
}
