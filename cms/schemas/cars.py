"""A car as the API shows it, in every shape (one module: the car, its images, list items, detail,
the admin's view), and the fast writers of the car lists and the detail, compiled from these
schemas (cms.schemas.writers).

Rows come from cms.services.cars already priced (cms.services.settings: `price` is what buyers
pay, `original_price` and `discount_label` are set only while a discount is active) and with
absolute image URLs: these schemas only present them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from marshmallow import fields, post_dump

from cms.schemas.fields import Money, NonNullString, OutputSchema, UtcDateTime
from cms.schemas.writers import compile_writer

CAR_STATUSES = ("pending", "available", "reserved", "sold", "rejected")


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

    # Shown only while a discount is active (original_price set); the writers read it too.
    written_together = ("original_price", "discount_label")

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


# --- the car lists and the detail without marshmallow -----------------------------------------
#
# GET /api/cars dumps up to every car (a million and more) and GET /api/cars/:id is the hottest
# read: marshmallow's per-field machinery costs several times their queries. These writers,
# compiled from the schemas above, write exactly what jsonify(Schema(...).dump(...)) sends
# (tests/test_car_list_dump.py holds them side by side; bench/car_list_json.py measures them).

# The columns of a list row (cms.repositories.cars: car_list_rows, priced by cms.services.cars).
LIST_COLUMNS = (
    "id", "title", "price", "description", "seller_id", "status", "brand", "model", "year", "fuel_type", "image",
    "created_at", "updated_at", "original_price", "discount_label", "rejection_reason", "primary_image_id",
    "primary_image_car_id", "primary_image_image_url", "primary_image_is_primary", "primary_image_display_order",
    "primary_image_created_at", "primary_image_updated_at",
)
_LIST_WRITER = compile_writer(CarListItemSchema, row_writer=True)
_ADMIN_LIST_WRITER = compile_writer(AdminCarListItemSchema, row_writer=True)
car_detail_json = compile_writer(CarDetailSchema)
car_detail_json.__doc__ = """GET /api/cars/:id: the JSON text of cms.services.cars.get_car's car (priced, public
image URLs), as jsonify(CarDetailSchema().dump(car)) writes it."""


def car_list_json(rows: Iterable[Sequence], columns: dict[str, int], *, admin: bool = False) -> Iterator[str]:
    """The JSON text of one car per row (tuples; `columns` maps LIST_COLUMNS names to positions), as
    CarListItemSchema (AdminCarListItemSchema with admin=True) dumps it."""
    return (_ADMIN_LIST_WRITER if admin else _LIST_WRITER)(rows, columns)
