"""Car images — /api/cars/:carId/images: list, upload, edit (primary, order), delete, and the stored file."""

from __future__ import annotations

from flask import Blueprint, Response, request

from cms import db
from cms.api.context import caller, public_base_url
from cms.api.declare import PUBLIC, SELLER_OR_ADMIN, declare
from cms.schemas.car_inputs import IMAGE_UPLOAD_FORM, ImageUpdateSchema
from cms.schemas.cars import ImageSchema, ImagesUploadedSchema, ImageUpdatedSchema
from cms.schemas.common import MessageSchema
from cms.services import images as images_service

bp = Blueprint("images", __name__, url_prefix="/api/cars/<id:car_id>/images")

# An image id never gets other bytes (a new upload is a new id), so clients may keep files for a year.
FILE_CACHE_SECONDS = 365 * 24 * 3600
SAFE_CONTENT_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")


@bp.get("")
@declare("A car's images by displayOrder", auth=PUBLIC, response=ImageSchema(many=True), replica_reads=True,
         revalidate=True)
def list_images(car_id: int):
    return images_service.list_images(db.connection(), car_id, base_url=public_base_url())


@bp.post("")
@declare("Upload 1-10 images (re-encoded as JPEG)", auth=SELLER_OR_ADMIN, body=IMAGE_UPLOAD_FORM,
         body_content_type="multipart/form-data", response=ImagesUploadedSchema, status=201, idempotent=True)
def upload_images(car_id: int):
    # Empty parts of a form (a file input left empty) are no files.
    files = [f for f in request.files.getlist(images_service.FIELD_NAME) if f.filename or f.content_length]
    stored = images_service.upload_images(db.connection(), caller(), car_id, files, base_url=public_base_url())
    count = len(stored)
    return {"message": f"{count} image{'s' if count != 1 else ''} uploaded", "images": stored}


@bp.put("/<id:image_id>")
@declare("Make primary or reorder", auth=SELLER_OR_ADMIN, body=ImageUpdateSchema, response=ImageUpdatedSchema)
def update_image(car_id: int, image_id: int, body):
    image = images_service.update_image(db.connection(), caller(), car_id, image_id, body, base_url=public_base_url())
    return {"message": "Image updated", "image": image}


@bp.delete("/<id:image_id>")
@declare("Delete an image (primary handed over)", auth=SELLER_OR_ADMIN, response=MessageSchema)
def delete_image(car_id: int, image_id: int):
    images_service.delete_image(db.connection(), caller(), car_id, image_id)
    return {"message": "Image deleted"}


@bp.get("/<id:image_id>/file")
@declare("The stored image bytes (ETag, long cache)", auth=PUBLIC, response={"type": "string", "format": "binary"},
         response_content_type="image/jpeg", other_answers={304: "Not modified (If-None-Match matched the ETag)"},
         replica_reads=True)
def image_file(car_id: int, image_id: int):
    known = request.if_none_match
    known_etags = () if known.star_tag else known.as_set(include_weak=True)
    file = images_service.image_file(db.connection(), car_id, image_id, known_etags)
    if file["content"] is None or known.star_tag:
        response = Response(status=304)
    else:
        # Old data: URLs could declare any type; never serve stored bytes as HTML or script.
        content_type = file["content_type"]
        if content_type not in SAFE_CONTENT_TYPES:
            content_type = "application/octet-stream"
        response = Response(bytes(file["content"]), content_type=content_type)
    response.set_etag(file["etag"])
    response.cache_control.public = True
    response.cache_control.max_age = FILE_CACHE_SECONDS
    response.cache_control.immutable = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
