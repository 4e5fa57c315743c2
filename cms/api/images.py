"""Car images — /api/cars/:carId/images: list, upload, edit (primary, order), delete, and the stored file."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from cms import db
from cms.api.cars import ensure_can_manage
from cms.auth import roles_required
from cms.errors import Invalid, NotFound
from cms.repositories import cars as cars_repo
from cms.repositories import images as images_repo
from cms.schemas.fields import load_json
from cms.schemas.images import ImageSchema, ImageUpdateSchema
from cms.services import audit
from cms.services import images as images_service

bp = Blueprint("images", __name__, url_prefix="/api/cars/<id:car_id>/images")

# An image id never gets other bytes (a new upload is a new id), so clients may keep files for a year.
FILE_CACHE_SECONDS = 365 * 24 * 3600
SAFE_CONTENT_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")


@bp.get("")
@db.replica_reads
def list_images(car_id: int):
    conn = db.connection()
    if cars_repo.get_car(conn, car_id) is None:
        raise NotFound()
    images = images_service.with_public_urls(images_repo.list_images(conn, car_id))
    return jsonify(ImageSchema(many=True).dump(images))


@bp.post("")
@roles_required("seller", "admin")
def upload_images(car_id: int):
    files = images_service.uploaded_files()
    conn = db.connection()
    ensure_can_manage(cars_repo.get_car(conn, car_id))
    # Fail fast before the (slow) decoding; the check that counts is repeated under the lock below.
    images_service.check_room(images_repo.image_stats(conn, car_id)["image_count"], len(files))
    processed = images_service.process_files(files)
    with db.transaction() as conn:
        ensure_can_manage(cars_repo.lock_car(conn, car_id))
        stats = images_repo.image_stats(conn, car_id)
        images_service.check_room(stats["image_count"], len(processed))
        stored = []
        for offset, image in enumerate(processed):
            stored.append(images_repo.insert_image_with_file(
                conn, car_id,
                is_primary=not stats["has_primary"] and offset == 0,
                display_order=stats["next_display_order"] + offset,
                content=image.content, content_type=image.content_type,
                width=image.width, height=image.height, etag=image.etag,
            ))
        audit.record_if_admin(conn, "upload_car_images", car_id, {"imageIds": [row["id"] for row in stored]})
    count = len(stored)
    return jsonify({
        "message": f"{count} image{'s' if count != 1 else ''} uploaded",
        "images": ImageSchema(many=True).dump(images_service.with_public_urls(stored)),
    }), 201


@bp.put("/<id:image_id>")
@roles_required("seller", "admin")
def update_image(car_id: int, image_id: int):
    changes = load_json(ImageUpdateSchema())
    with db.transaction() as conn:
        ensure_can_manage(cars_repo.lock_car(conn, car_id))
        image = images_repo.get_image(conn, car_id, image_id)
        if image is None:
            raise NotFound("Image not found")
        if changes.get("is_primary") is False and image["is_primary"]:
            raise Invalid("A car always has one primary image: make another image primary instead")
        image = images_repo.update_image(
            conn, car_id, image_id,
            make_primary=bool(changes.get("is_primary")), display_order=changes.get("display_order"),
        )
        audit.record_if_admin(conn, "update_car_image", car_id, {"imageId": image_id, **changes})
    return jsonify({"message": "Image updated", "image": ImageSchema().dump(images_service.with_public_url(image))})


@bp.delete("/<id:image_id>")
@roles_required("seller", "admin")
def delete_image(car_id: int, image_id: int):
    with db.transaction() as conn:
        ensure_can_manage(cars_repo.lock_car(conn, car_id))
        if images_repo.delete_image(conn, car_id, image_id) is None:
            raise NotFound("Image not found")
        audit.record_if_admin(conn, "delete_car_image", car_id, {"imageId": image_id})
    return jsonify({"message": "Image deleted"})


@bp.get("/<id:image_id>/file")
@db.replica_reads
def image_file(car_id: int, image_id: int):
    known = request.if_none_match
    known_etags = () if known.star_tag else known.as_set(include_weak=True)
    file = images_repo.get_file(db.connection(), car_id, image_id, known_etags)
    if file is None:
        raise NotFound("Image not found")
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
