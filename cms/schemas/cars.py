"""Cars as the API shows them (requests for cars are validated in this module too)."""

from __future__ import annotations

from marshmallow import fields

from cms.schemas.fields import Money, OutputSchema, UtcDateTime

CAR_STATUSES = ("pending", "available", "reserved", "sold", "rejected")


class NonNullString(fields.String):
    """A string that is dumped as "" instead of null (the browse page lower-cases it)."""

    def _serialize(self, value, attr, obj, **kwargs):
        return "" if value is None else super()._serialize(value, attr, obj, **kwargs)


class CarSchema(OutputSchema):
    """A car: {id, title, price, description, sellerId, status, brand, model, year, fuelType,
    image, createdAt, updatedAt}. Rows use the column names of the cars table."""

    id = fields.Integer()
    title = NonNullString()
    price = Money()
    description = NonNullString()
    seller_id = fields.Integer(data_key="sellerId", allow_none=True)
    status = fields.String()
    brand = NonNullString()
    model = fields.String(allow_none=True)
    year = fields.Integer(allow_none=True)
    fuel_type = fields.String(data_key="fuelType", allow_none=True)
    image = fields.String(allow_none=True)
    created_at = UtcDateTime(data_key="createdAt")
    updated_at = UtcDateTime(data_key="updatedAt")
