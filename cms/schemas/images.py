"""Car images as the API shows them, the image edit body, and cars carrying their images."""

from __future__ import annotations

from marshmallow import EXCLUDE, fields, validate

from cms.schemas.car_inputs import WholeNumber
from cms.schemas.cars import CarSchema
from cms.schemas.fields import MAX_INT4, InputSchema, OutputSchema, UtcDateTime


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


class AdminCarSchema(CarSchema):
    """A car as the admin console sees it: plus rejectionReason."""

    rejection_reason = fields.String(data_key="rejectionReason", allow_none=True)


class AdminCarListItemSchema(CarListItemSchema):
    """A car of GET /api/admin/cars: primaryImage and rejectionReason."""

    rejection_reason = fields.String(data_key="rejectionReason", allow_none=True)
