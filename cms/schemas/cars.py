"""A car as the API shows it, in every shape (one module: the car, its images, list items, detail,
the admin's view), and the fast writer of long car lists.

Rows come from cms.services.cars already priced (cms.services.settings: `price` is what buyers
pay, `original_price` and `discount_label` are set only while a discount is active) and with
absolute image URLs: these schemas only present them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from json.encoder import encode_basestring_ascii

from marshmallow import fields, post_dump

from cms.schemas.fields import Money, OutputSchema, UtcDateTime, money, utc_text

CAR_STATUSES = ("pending", "available", "reserved", "sold", "rejected")


class NonNullString(fields.String):
    """A string that is dumped as "" instead of null (the browse page lower-cases it)."""

    def _serialize(self, value, attr, obj, **kwargs):
        return "" if value is None else super()._serialize(value, attr, obj, **kwargs)


class ImageSchema(OutputSchema):
    """An image: {id, carId, imageUrl, isPrimary, displayOrder, createdAt, updatedAt} (imageUrl absolute)."""

    id = fields.Integer()
    car_id = fields.Integer(data_key="carId")
    image_url = fields.String(data_key="imageUrl", allow_none=True)
    is_primary = fields.Boolean(data_key="isPrimary")
    display_order = fields.Integer(data_key="displayOrder")
    created_at = UtcDateTime(data_key="createdAt")
    updated_at = UtcDateTime(data_key="updatedAt")


class CarSchema(OutputSchema):
    """A car: {id, title, price, description, sellerId, status, brand, model, year, fuelType,
    image, createdAt, updatedAt}, plus originalPrice and discountLabel while a discount is active.
    Rows use the column names of the cars table."""

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

    @post_dump
    def _drop_empty_discount(self, data, **kwargs):
        if data.get("originalPrice") is None:
            data.pop("originalPrice", None)
            data.pop("discountLabel", None)
        return data


class CarListItemSchema(CarSchema):
    """A car of GET /api/cars: the car plus primaryImage (an image or null)."""

    primary_image = fields.Nested(ImageSchema, data_key="primaryImage", allow_none=True)


class CarDetailSchema(CarSchema):
    """GET /api/cars/:id: the car plus images (by displayOrder), averageRating (null without reviews), reviewCount."""

    images = fields.List(fields.Nested(ImageSchema))
    average_rating = fields.Float(data_key="averageRating", allow_none=True)
    review_count = fields.Integer(data_key="reviewCount")


class AdminCarSchema(CarSchema):
    """A car as the admin console sees it: plus rejectionReason."""

    rejection_reason = fields.String(data_key="rejectionReason", allow_none=True)


class AdminCarListItemSchema(CarListItemSchema):
    """A car of GET /api/admin/cars: primaryImage and rejectionReason."""

    rejection_reason = fields.String(data_key="rejectionReason", allow_none=True)


class ImagesUploadedSchema(OutputSchema):
    """POST /api/cars/:carId/images."""

    message = fields.String(required=True)
    images = fields.List(fields.Nested(ImageSchema), required=True)


class ImageUpdatedSchema(OutputSchema):
    """PUT /api/cars/:carId/images/:imageId."""

    message = fields.String(required=True)
    image = fields.Nested(ImageSchema, required=True)


# --- long car lists without marshmallow ----------------------------------------------------
#
# GET /api/cars without `limit` dumps every car (10,000 and more): marshmallow's per-field
# machinery costs ~0.05 ms per car, several times the query. car_list_json() writes exactly
# what jsonify(CarListItemSchema(many=True).dump(cars)) sends for the same cars
# (AdminCarListItemSchema with admin=True): same keys in the same order, same values, same
# escaping (json's own encode_basestring_ascii, Flask's ensure_ascii), same number formats.
# tests/test_car_list_dump.py holds the two side by side; bench/car_list_json.py measures it
# against building dicts and encoding them with orjson.

LIST_COLUMNS = (
    "id", "title", "price", "description", "seller_id", "status", "brand", "model", "year", "fuel_type", "image",
    "created_at", "updated_at", "original_price", "discount_label", "rejection_reason", "primary_image_id",
    "primary_image_car_id", "primary_image_image_url", "primary_image_is_primary", "primary_image_display_order",
    "primary_image_created_at", "primary_image_updated_at",
)


def _json_text(value) -> str:
    """A string (or null) as json.dumps writes it with ensure_ascii."""
    return "null" if value is None else encode_basestring_ascii(value)


def _json_time(value) -> str:
    """A `timestamp` (PostgreSQL's text or a datetime) as UtcDateTime's JSON string, or null."""
    return "null" if value is None else f'"{utc_text(value)}"'


def _json_money(value) -> str:
    """A price as Money dumps it and json.dumps writes it: 20000, 19999.99, or null."""
    number = money(value)
    return "null" if number is None else repr(number)


def _json_int(value) -> str:
    return "null" if value is None else repr(int(value))


def _json_bool(value) -> str:
    return "null" if value is None else ("true" if value else "false")


def car_list_json(rows: Iterable[Sequence], columns: dict[str, int], *, admin: bool = False) -> Iterator[str]:
    """The JSON text of one car per row (tuples; `columns` maps LIST_COLUMNS names to positions)."""
    (car_id, title, price, description, seller_id, status, brand, model, year, fuel_type, image, created_at,
     updated_at, original_price, discount_label, rejection_reason, image_id, image_car_id, image_url, is_primary,
     display_order, image_created_at, image_updated_at) = (columns[name] for name in LIST_COLUMNS)
    text, time, integer, boolean, amount = _json_text, _json_time, _json_int, _json_bool, _json_money
    for row in rows:
        discount = ""
        if row[original_price] is not None:
            discount = f',"originalPrice":{amount(row[original_price])},"discountLabel":{text(row[discount_label])}'
        primary = "null"
        if row[image_id] is not None:
            primary = (
                f'{{"id":{integer(row[image_id])},"carId":{integer(row[image_car_id])},'
                f'"imageUrl":{text(row[image_url])},"isPrimary":{boolean(row[is_primary])},'
                f'"displayOrder":{integer(row[display_order])},"createdAt":{time(row[image_created_at])},'
                f'"updatedAt":{time(row[image_updated_at])}}}'
            )
        admin_fields = f',"rejectionReason":{text(row[rejection_reason])}' if admin else ""
        yield (
            f'{{"id":{integer(row[car_id])},"title":{text(row[title] or "")},"price":{amount(row[price])},'
            f'"description":{text(row[description] or "")},"sellerId":{integer(row[seller_id])},'
            f'"status":{text(row[status])},"brand":{text(row[brand] or "")},"model":{text(row[model])},'
            f'"year":{integer(row[year])},"fuelType":{text(row[fuel_type])},"image":{text(row[image])},'
            f'"createdAt":{time(row[created_at])},"updatedAt":{time(row[updated_at])}{discount},'
            f'"primaryImage":{primary}{admin_fields}}}'
        )


# --- car detail without marshmallow ----------------------------------------------------------
#
# GET /api/cars/:id is the hottest read: CarDetailSchema's dump plus jsonify cost more than the
# query. car_detail_json() writes what jsonify(CarDetailSchema().dump(car)) sends for the same
# car (tests/test_car_list_dump.py holds them side by side, with and without a discount).

def _json_float(value) -> str:
    return "null" if value is None else repr(float(value))


def _image_json(image: dict) -> str:
    """One image as ImageSchema dumps it (keys in its order)."""
    return (f'{{"id":{_json_int(image["id"])},"carId":{_json_int(image["car_id"])},'
            f'"imageUrl":{_json_text(image["image_url"])},"isPrimary":{_json_bool(image["is_primary"])},'
            f'"displayOrder":{_json_int(image["display_order"])},"createdAt":{_json_time(image["created_at"])},'
            f'"updatedAt":{_json_time(image["updated_at"])}}}')


def car_detail_json(car: dict) -> str:
    """GET /api/cars/:id: the JSON text of cms.services.cars.get_car's car (priced, public image URLs).

    One f-string in CarSchema's key order (then the discount, images and rating of CarDetailSchema):
    this runs once per detail request, the hottest read."""
    text, integer = _json_text, _json_int
    discount = ""
    if car.get("original_price") is not None:
        discount = (f',"originalPrice":{_json_money(car["original_price"])},'
                    f'"discountLabel":{text(car["discount_label"])}')
    images = ",".join([_image_json(image) for image in car["images"]])
    return (
        f'{{"id":{integer(car["id"])},"title":{text(car["title"] or "")},"price":{_json_money(car["price"])},'
        f'"description":{text(car["description"] or "")},"sellerId":{integer(car["seller_id"])},'
        f'"status":{text(car["status"])},"brand":{text(car["brand"] or "")},"model":{text(car["model"])},'
        f'"year":{integer(car["year"])},"fuelType":{text(car["fuel_type"])},"image":{text(car["image"])},'
        f'"createdAt":{_json_time(car["created_at"])},"updatedAt":{_json_time(car["updated_at"])}{discount},'
        f'"images":[{images}],"averageRating":{_json_float(car["average_rating"])},'
        f'"reviewCount":{integer(car["review_count"])}}}'
    )
