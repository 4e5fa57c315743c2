"""Cars as the API shows them (requests for cars are validated in this module too)."""

from __future__ import annotations

from flask import has_app_context
from marshmallow import fields, post_dump, pre_dump

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
    original_price = Money(data_key="originalPrice")
    discount_label = fields.String(data_key="discountLabel", allow_none=True)

    @pre_dump
    def _apply_discount(self, car, **kwargs):
        """While an admin's global discount is active, `price` is the discounted price and
        `originalPrice` / `discountLabel` say so; otherwise neither key appears."""
        runtime = self._runtime_settings()
        if runtime is None or not runtime.discount_active() or car.get("price") is None:
            return car
        return {**car, "price": runtime.discounted(car["price"]), "original_price": car["price"],
                "discount_label": runtime.discount_label or f"{runtime.discount_percent.normalize():f}% off"}

    @post_dump
    def _drop_empty_discount(self, data, **kwargs):
        if data.get("originalPrice") is None:
            data.pop("originalPrice", None)
            data.pop("discountLabel", None)
        return data

    def _runtime_settings(self):
        if not hasattr(self, "_runtime"):
            from cms.services import settings as runtime_settings

            self._runtime = runtime_settings.current() if has_app_context() else None
        return self._runtime
