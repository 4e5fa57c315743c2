"""Requests about cars: create/edit bodies, list query parameters, admin approval, image edits."""

from __future__ import annotations

from marshmallow import EXCLUDE, ValidationError, fields, pre_load, validate

from cms.schemas.cars import CAR_STATUSES
from cms.schemas.fields import MAX_INT4, Id, InputSchema, Money, SafeUrl, Text, WholeNumber

MIN_YEAR = 1886  # the first motor car
MAX_YEAR = 2100
MAX_PAGE_SIZE = 100
CAR_SORTS = ("newest", "oldest", "price_asc", "price_desc", "year_asc", "year_desc", "relevance")
APPROVAL_STATUSES = ("approved", "available", "rejected")


def _not_blank(value: str) -> None:
    if not value:
        raise ValidationError("Must not be empty.")


class CarWriteSchema(InputSchema):
    """POST /api/cars (title and price required) and PUT /api/cars/:id (load with partial=True).

    Only the editable fields are read. Any other key (status, sellerId, id, createdAt, primaryImage…,
    which an edit form may send back) is ignored, so it can never change the row.
    """

    class Meta:
        unknown = EXCLUDE

    title = Text(required=True, max_length=255, validate=_not_blank)
    price = Money(required=True)
    description = Text(max_length=20000, allow_none=True)
    brand = Text(max_length=100, allow_none=True)
    model = Text(max_length=100, allow_none=True)
    year = WholeNumber(
        allow_none=True, blank_is_none=True,
        validate=validate.Range(min=MIN_YEAR, max=MAX_YEAR, error=f"Must be between {MIN_YEAR} and {MAX_YEAR}."),
    )
    fuel_type = Text(data_key="fuelType", max_length=50, allow_none=True)
    image = SafeUrl(max_length=2048, allow_none=True)


def _blank_to_missing(data):
    """Query strings: `?brand=` means no filter."""
    if not isinstance(data, dict):
        return data
    return {key: value for key, value in data.items() if not (isinstance(value, str) and not value.strip())}


class CarListQuerySchema(InputSchema):
    """GET /api/cars and GET /api/admin/cars query parameters (all optional; unknown ones are ignored)."""

    class Meta:
        unknown = EXCLUDE

    q = Text(max_length=200)
    brand = Text(max_length=100)
    model = Text(max_length=100)
    fuel_type = Text(data_key="fuelType", max_length=50)
    status = fields.String(validate=validate.OneOf(CAR_STATUSES, error=f"Must be one of: {', '.join(CAR_STATUSES)}."))
    seller_id = Id(data_key="sellerId")
    min_price = Money(data_key="minPrice")
    max_price = Money(data_key="maxPrice")
    min_year = WholeNumber(data_key="minYear", validate=validate.Range(min=0, max=9999))
    max_year = WholeNumber(data_key="maxYear", validate=validate.Range(min=0, max=9999))
    sort = fields.String(
        load_default="newest",
        validate=validate.OneOf(CAR_SORTS, error=f"Must be one of: {', '.join(CAR_SORTS)}."),
    )
    limit = WholeNumber(validate=validate.Range(min=1, max=MAX_PAGE_SIZE,
                                                error=f"Must be between 1 and {MAX_PAGE_SIZE}."))
    offset = WholeNumber(load_default=0, validate=validate.Range(min=0, max=MAX_INT4))
    # The opaque position of a Link rel="next" URL (cms.services.cursors); needs limit, not offset.
    cursor = fields.String(validate=validate.Length(max=512))

    @pre_load
    def _drop_blank_values(self, data, **kwargs):
        return _blank_to_missing(data)


class CarApprovalSchema(InputSchema):
    """PATCH /api/admin/cars/:id/approval: {status: approved|available|rejected, rejectionReason?}."""

    class Meta:
        unknown = EXCLUDE

    status = fields.String(
        required=True,
        validate=validate.OneOf(APPROVAL_STATUSES, error="Must be approved, available or rejected."),
    )
    rejection_reason = Text(data_key="rejectionReason", max_length=2000, allow_none=True)


class ImageUpdateSchema(InputSchema):
    """PUT /api/cars/:carId/images/:imageId: {isPrimary?, displayOrder?}; other keys are ignored."""

    class Meta:
        unknown = EXCLUDE

    is_primary = fields.Boolean(data_key="isPrimary")
    display_order = WholeNumber(data_key="displayOrder", validate=validate.Range(min=0, max=MAX_INT4))


# The multipart body of POST /api/cars/:carId/images, as a JSON schema (documentation only: the
# files are read and checked by cms.services.images).
IMAGE_UPLOAD_FORM = {
    "type": "object",
    "required": ["images"],
    "properties": {
        "images": {
            "type": "array",
            "minItems": 1,
            "maxItems": 10,
            "items": {"type": "string", "format": "binary"},
            "description": "JPEG, PNG or WebP; at most 5 MB and 100×100 to 10000×10000 px each",
        },
    },
}
