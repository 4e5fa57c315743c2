"""Car images as the API shows them, the image edit body, and cars carrying their images."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from json.encoder import encode_basestring_ascii

from flask import has_app_context
from marshmallow import EXCLUDE, fields, validate

from cms.schemas.car_inputs import WholeNumber
from cms.schemas.cars import CarSchema
from cms.schemas.fields import MAX_INT4, InputSchema, OutputSchema, UtcDateTime
from cms.services import images as images_service


class ImageSchema(OutputSchema):
    """An image: {id, carId, imageUrl, isPrimary, displayOrder, createdAt, updatedAt}.

    Rows must have gone through cms.services.images.with_public_url first (imageUrl is absolute).
    """

    id = fields.Integer()
    car_id = fields.Integer(data_key="carId")
    image_url = fields.String(data_key="imageUrl", allow_none=True)
    is_primary = fields.Boolean(data_key="isPrimary")
    display_order = fields.Integer(data_key="displayOrder")
    created_at = UtcDateTime(data_key="createdAt")
    updated_at = UtcDateTime(data_key="updatedAt")


class ImageUpdateSchema(InputSchema):
    """PUT /api/cars/:carId/images/:imageId: {isPrimary?, displayOrder?}; other keys are ignored."""

    class Meta:
        unknown = EXCLUDE

    is_primary = fields.Boolean(data_key="isPrimary")
    display_order = WholeNumber(data_key="displayOrder", validate=validate.Range(min=0, max=MAX_INT4))


class CarListItemSchema(CarSchema):
    """A car of GET /api/cars: the car plus primaryImage (an image or null)."""

    primary_image = fields.Nested(ImageSchema, data_key="primaryImage", allow_none=True)


class CarDetailSchema(CarSchema):
    """GET /api/cars/:id: the car plus images (by displayOrder), averageRating (null without reviews), reviewCount."""

    images = fields.List(fields.Nested(ImageSchema))
    average_rating = fields.Float(data_key="averageRating", allow_none=True)
    review_count = fields.Integer(data_key="reviewCount")

    def _runtime_settings(self):
        """The request's settings, never kept on the instance: one instance serves every request."""
        from cms.services import settings as runtime_settings

        return runtime_settings.current() if has_app_context() else None


class AdminCarSchema(CarSchema):
    """A car as the admin console sees it: plus rejectionReason."""

    rejection_reason = fields.String(data_key="rejectionReason", allow_none=True)


class AdminCarListItemSchema(CarListItemSchema):
    """A car of GET /api/admin/cars: primaryImage and rejectionReason."""

    rejection_reason = fields.String(data_key="rejectionReason", allow_none=True)


# --- car lists without marshmallow ---------------------------------------------------------
#
# GET /api/cars without `limit` dumps every car (10,000 and more): marshmallow's per-field
# machinery cost ~0.05 ms per car, several times the query, and a dict per car plus
# json.dumps still cost twice what writing the JSON text directly does. car_list_json()
# writes exactly what jsonify(CarListItemSchema(many=True).dump(cars)) sends for the same
# cars (AdminCarListItemSchema with admin=True): same keys in the same order, same values,
# same escaping (json's own encode_basestring_ascii, Flask's ensure_ascii), same number
# formats. tests/test_car_list_dump.py holds the two side by side (with and without images,
# stored files, missing values, non-ASCII text, an active discount).


def _utc_text(value):
    """UtcDateTime's output for a `timestamp` value."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(timespec="milliseconds") + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _utc_text_from_text(value):
    """UtcDateTime's output for a `timestamp` PostgreSQL printed as text in the ISO DateStyle
    ('2026-03-04 05:06:07.891234', the fraction without its trailing zeros); a datetime too."""
    if value.__class__ is str:
        if 19 <= len(value) <= 26 and value[4] == "-" and value[10] == " ":
            return f"{value[:10]}T{value[11:19]}.{value[20:23]:0<3}Z"
        value = dt.datetime.fromisoformat(value)
    return _utc_text(value)


def _money(value):
    """Money's output: a JSON number, whole numbers without decimals."""
    if value is None:
        return None
    number = float(value)
    return int(number) if number.is_integer() else number


def _json_text(value) -> str:
    """A string (or null) as json.dumps writes it with ensure_ascii."""
    return "null" if value is None else encode_basestring_ascii(value)


def _json_time(value) -> str:
    """A `timestamp` (text or datetime, see _utc_text_from_text) as UtcDateTime's JSON string, or null."""
    return "null" if value is None else f'"{_utc_text_from_text(value)}"'


def _json_money(value) -> str:
    """A price as Money dumps it and json.dumps writes it: 20000, 19999.99, or null."""
    number = _money(value)
    return "null" if number is None else repr(number)


def _json_int(value) -> str:
    return "null" if value is None else repr(int(value))


def _json_bool(value) -> str:
    return "null" if value is None else ("true" if value else "false")


def car_list_json(rows: Iterable[Sequence], columns: dict[str, int], *, base_url: str, runtime=None,
                  admin: bool = False) -> Iterator[str]:
    """The cars of a list as the API shows them: the JSON text of one car per row of cars_list.

    `rows` are cars_list rows as tuples (timestamps as text or datetimes), `columns` maps
    column names to positions (cms.repositories.cars.CarList); `base_url` makes stored
    files' imageUrl absolute (cms.services.images); `runtime` is
    cms.services.settings.current() (its discount applies), or None.
    """
    discount = runtime is not None and runtime.discount_active()
    label = (runtime.discount_label or f"{runtime.discount_percent.normalize():f}% off") if discount else None
    discounted: dict = {}  # price -> discounted price (a few thousand distinct prices at most)
    (car_id, title, price_at, description, seller_id, status, brand, model, year, fuel_type, image, created_at,
     updated_at, rejection_reason, image_id, image_car_id, image_url_at, is_primary, display_order,
     image_created_at, image_updated_at, has_file) = (columns[name] for name in (
        "id", "title", "price", "description", "seller_id", "status", "brand", "model", "year", "fuel_type", "image",
        "created_at", "updated_at", "rejection_reason", "primary_image_id", "primary_image_car_id",
        "primary_image_image_url", "primary_image_is_primary", "primary_image_display_order",
        "primary_image_created_at", "primary_image_updated_at", "primary_image_has_file"))
    text, time, integer, boolean, money = _json_text, _json_time, _json_int, _json_bool, _json_money
    for row in rows:
        price = row[price_at]
        discount_fields = ""
        if discount and price is not None:
            if price not in discounted:
                discounted[price] = money(runtime.discounted(price))
            discount_fields = f',"originalPrice":{money(price)},"discountLabel":{text(label)}'
            shown_price = discounted[price]
        else:
            shown_price = money(price)
        primary = "null"
        if row[image_id] is not None:
            image_url = row[image_url_at]
            if row[has_file]:
                image_url = images_service.with_public_url(
                    {"id": row[image_id], "car_id": row[image_car_id], "has_file": True}, base_url
                )["image_url"]
            primary = (
                f'{{"id":{integer(row[image_id])},"carId":{integer(row[image_car_id])},"imageUrl":{text(image_url)},'
                f'"isPrimary":{boolean(row[is_primary])},"displayOrder":{integer(row[display_order])},'
                f'"createdAt":{time(row[image_created_at])},"updatedAt":{time(row[image_updated_at])}}}'
            )
        admin_fields = f',"rejectionReason":{text(row[rejection_reason])}' if admin else ""
        yield (
            f'{{"id":{integer(row[car_id])},"title":{text(row[title] or "")},"price":{shown_price},'
            f'"description":{text(row[description] or "")},"sellerId":{integer(row[seller_id])},'
            f'"status":{text(row[status])},"brand":{text(row[brand] or "")},"model":{text(row[model])},'
            f'"year":{integer(row[year])},"fuelType":{text(row[fuel_type])},"image":{text(row[image])},'
            f'"createdAt":{time(row[created_at])},"updatedAt":{time(row[updated_at])}{discount_fields},'
            f'"primaryImage":{primary}{admin_fields}}}'
        )
