"""Car images — /api/cars/:carId/images: upload rules, storage as bytea, files, primary image, order, delete,
and the move of the old server's data: URLs into car_image_files (migration 0008)."""

from __future__ import annotations

import base64
import io
import logging
import shutil
import struct
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import psycopg
import pytest
import pyvips
from PIL import Image
from support.app import error_of

from cms import db
from cms.services import images as images_service

IMAGE_FIELDS = {"id", "carId", "imageUrl", "isPrimary", "displayOrder", "createdAt", "updatedAt"}


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (200, 150), mode: str = "RGB", color=(200, 40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, fmt)
    return buffer.getvalue()


def png_header_only(width: int, height: int, *, bit_depth: int = 8, colour_type: int = 2, interlace: int = 0) -> bytes:
    """A PNG whose header claims width×height, with almost no pixel data (never decoded by a correct server).
    colour_type 2: RGB, 6: RGBA; interlace 1: Adam7."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
            + chunk(b"IEND", b""))


def upload(client, car_id, files, headers):
    """POST multipart `images` with [(bytes, filename), ...]."""
    data = {"images": [(io.BytesIO(content), name) for content, name in files]}
    return client.post(f"/api/cars/{car_id}/images", data=data, headers=headers, content_type="multipart/form-data")


def stored_images(sql, car_id):
    return sql.execute(
        "SELECT i.id, i.is_primary, i.display_order, i.image_url, f.content_type, f.width, f.height, f.byte_size, "
        "f.etag, f.content FROM car_images AS i LEFT JOIN car_image_files AS f ON f.image_id = i.id "
        "WHERE i.car_id = %s ORDER BY i.display_order, i.id",
        (car_id,),
    ).fetchall()


def add_image(factory, car, *, with_file=True, **columns):
    values = {"car_id": car["id"], "image_url": None, "is_primary": False, "display_order": 0, **columns}
    image = factory.row("car_images", **values)
    if with_file:
        factory.row("car_image_files", image_id=image["id"], content_type="image/jpeg", content=image_bytes(),
                    byte_size=1, width=200, height=150, etag=f"etag{image['id']}")
    return image


@pytest.fixture
def seller(factory):
    return factory.user("seller")


@pytest.fixture
def car(factory, seller):
    return factory.car(seller)


# --- POST /api/cars/:carId/images ----------------------------------------------------

def test_upload_stores_reencoded_jpegs_and_answers_201_with_the_images(client, factory, sql, seller, car):
    response = upload(client, car["id"], [(image_bytes("JPEG"), "front.jpg"), (image_bytes("PNG"), "side.png")],
                      factory.headers(seller))

    assert response.status_code == 201
    body = response.get_json()
    assert body["message"] == "2 images uploaded"
    images = body["images"]
    assert [set(image) for image in images] == [IMAGE_FIELDS, IMAGE_FIELDS]
    assert [image["carId"] for image in images] == [car["id"], car["id"]]
    assert [image["isPrimary"] for image in images] == [True, False]
    assert [image["displayOrder"] for image in images] == [0, 1]
    for image in images:
        assert image["imageUrl"] == f"http://localhost/api/cars/{car['id']}/images/{image['id']}/file"
        assert image["createdAt"].endswith("Z") and image["updatedAt"].endswith("Z")
    rows = stored_images(sql, car["id"])
    assert [row["id"] for row in rows] == [image["id"] for image in images]
    for row in rows:
        assert row["image_url"] is None
        assert row["content_type"] == "image/jpeg"
        assert (row["width"], row["height"]) == (200, 150)
        assert row["byte_size"] == len(row["content"])
        assert Image.open(io.BytesIO(row["content"])).format == "JPEG"
        assert len(row["etag"]) == 64


def test_upload_continues_the_display_order_and_keeps_the_first_primary(client, factory, sql, seller, car):
    headers = factory.headers(seller)
    upload(client, car["id"], [(image_bytes(), "a.jpg")], headers)

    response = upload(client, car["id"], [(image_bytes(), "b.jpg"), (image_bytes(), "c.jpg")], headers)

    assert response.status_code == 201
    assert [(i["displayOrder"], i["isPrimary"]) for i in response.get_json()["images"]] == [(1, False), (2, False)]
    assert [row["is_primary"] for row in stored_images(sql, car["id"])] == [True, False, False]


def test_upload_to_a_car_without_a_primary_image_makes_the_first_new_one_primary(client, factory, sql, seller, car):
    add_image(factory, car, with_file=False, image_url="/images/car1.png", display_order=4)

    response = upload(client, car["id"], [(image_bytes(), "a.jpg")], factory.headers(seller))

    image = response.get_json()["images"][0]
    assert (image["displayOrder"], image["isPrimary"]) == (5, True)


@pytest.mark.parametrize(("size", "stored"), [((3000, 1000), (1920, 640)), ((1000, 3000), (360, 1080)),
                                              ((2400, 1350), (1920, 1080))])
def test_large_images_are_scaled_to_fit_inside_1920_by_1080(client, factory, sql, seller, car, size, stored):
    response = upload(client, car["id"], [(image_bytes("JPEG", size), "big.jpg")], factory.headers(seller))

    assert response.status_code == 201
    [row] = stored_images(sql, car["id"])
    assert (row["width"], row["height"]) == stored
    assert Image.open(io.BytesIO(row["content"])).size == stored


def test_webp_and_transparent_png_are_accepted_and_stored_as_jpeg(client, factory, sql, seller, car):
    files = [(image_bytes("WEBP"), "a.webp"), (image_bytes("PNG", mode="RGBA", color=(0, 0, 0, 0)), "b.png")]

    response = upload(client, car["id"], files, factory.headers(seller))

    assert response.status_code == 201
    rows = stored_images(sql, car["id"])
    assert [Image.open(io.BytesIO(row["content"])).format for row in rows] == ["JPEG", "JPEG"]
    # Transparent pixels are flattened onto white.
    assert Image.open(io.BytesIO(rows[1]["content"])).getpixel((50, 50)) >= (250, 250, 250)


def test_the_decoded_format_counts_not_the_file_name(client, factory, sql, seller, car):
    headers = factory.headers(seller)

    accepted = upload(client, car["id"], [(image_bytes("PNG"), "looks-like.gif")], headers)
    refused = upload(client, car["id"], [(image_bytes("GIF"), "looks-like.jpg")], headers)

    assert accepted.status_code == 201
    assert refused.status_code == 400
    assert refused.get_json()["error"] == (
        "'looks-like.jpg': not a JPEG, PNG or WebP image (only these formats are accepted)")
    assert len(stored_images(sql, car["id"])) == 1


REFUSED_FILES = [
    (b"just some text", "notes.jpg", "not a JPEG, PNG or WebP image"),
    (image_bytes("BMP"), "photo.bmp", "not a JPEG, PNG or WebP image"),
    (image_bytes("JPEG", (99, 150)), "narrow.jpg", "is 99×150 px; each side must be between 100 and 10000 px"),
    (image_bytes("PNG", (150, 60)), "flat.png", "is 150×60 px; each side must be between 100 and 10000 px"),
    (png_header_only(10001, 200), "wide.png", "is 10001×200 px; each side must be between 100 and 10000 px"),
    (png_header_only(40000, 40000), "bomb.png", "too many pixels"),
    (image_bytes("JPEG", (300, 300))[:400], "cut.jpg", "damaged and could not be decoded"),
    (image_bytes("JPEG") + b"\0" * (5 * 1024 * 1024), "huge.jpg", "larger than 5 MB"),
    (b"", "empty.jpg", "the file is empty"),
]


def test_each_refused_file_is_a_400_naming_the_file_and_the_rule(client, factory, sql, seller, car, subtests):
    headers = factory.headers(seller)
    for content, name, rule in REFUSED_FILES:
        with subtests.test(file=name):
            response = upload(client, car["id"], [(content, name)], headers)

            assert response.status_code == 400
            error = response.get_json()["error"]
            assert error.startswith(f"'{name}': ")
            assert rule in error
    assert stored_images(sql, car["id"]) == []


def test_nothing_is_stored_when_one_file_of_several_is_refused(client, factory, sql, seller, car):
    files = [(image_bytes(), "good.jpg"), (image_bytes("GIF"), "bad.gif"), (image_bytes(), "also-good.jpg")]

    response = upload(client, car["id"], files, factory.headers(seller))

    assert response.status_code == 400
    assert "'bad.gif'" in response.get_json()["error"]
    assert stored_images(sql, car["id"]) == []


# --- what libvips cannot shrink while decoding, and damaged files -------------------------

def pattern(width: int, height: int, bands: int = 3) -> pyvips.Image:
    """An image whose pixels all differ from their neighbours (it compresses poorly, so every part
    of its file holds pixel data)."""
    xy = pyvips.Image.xyz(width, height)
    channels = [xy[0] % 256, xy[1] % 256, (xy[0] * xy[1]) % 251, (xy[0] + xy[1]) % 256][:bands]
    return channels[0].bandjoin(channels[1:]).cast("uchar")


def with_jpeg_size(jpeg: bytes, width: int, height: int) -> bytes:
    """The JPEG with its frame header (SOF0/SOF2) claiming width×height; the scans are left as they are."""
    frame = next(position for position in range(len(jpeg) - 1)
                 if jpeg[position] == 0xFF and jpeg[position + 1] in (0xC0, 0xC2))
    return jpeg[:frame + 5] + struct.pack(">HH", height, width) + jpeg[frame + 9:]


def with_lossless_webp_size(webp: bytes, width: int, height: int) -> bytes:
    """A simple lossless WebP (RIFF, WEBP, VP8L) with its header claiming width×height."""
    assert webp[12:16] == b"VP8L"
    bits = int.from_bytes(webp[21:25], "little") & ~0xFFFFFFF | (width - 1) | (height - 1) << 14
    return webp[:21] + bits.to_bytes(4, "little") + webp[25:]


SMALL = pattern(64, 64)
# The review's bombs: 10000×10000, within every other limit, files a few KB here (only their headers
# are read: a correct server refuses them before decoding any pixel).
BOMBS = [
    ("bomb.png", png_header_only(10_000, 10_000, bit_depth=16, colour_type=6, interlace=1),
     "an interlaced (Adam7) PNG"),
    ("bomb.jpg", with_jpeg_size(SMALL.jpegsave_buffer(interlace=True, subsample_mode="off"), 10_000, 10_000),
     "a progressive JPEG"),
    ("bomb.webp", with_lossless_webp_size(SMALL.webpsave_buffer(lossless=True, keep="none"), 10_000, 10_000),
     "a lossless WebP"),
]


@pytest.mark.parametrize(("name", "content", "kind"), BOMBS, ids=[name for name, _, _ in BOMBS])
def test_images_libvips_must_decode_whole_are_refused_above_the_pixel_budget(client, factory, sql, seller, car,
                                                                           name, content, kind):
    response = upload(client, car["id"], [(content, name)], factory.headers(seller))

    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error.startswith(f"'{name}': {kind}")
    assert "is decoded whole, so it may have at most" in error and "megapixels (this one has 100.0)" in error
    assert stored_images(sql, car["id"]) == []


# 400×300 px each; what a whole decode of each would hold (bytes per pixel), and the ones
# libvips shrinks or streams while decoding, which hold no such buffer.
DECODED_WHOLE = [
    ("progressive.jpg", lambda: pattern(400, 300).jpegsave_buffer(interlace=True, subsample_mode="off"), 6),
    ("progressive-420.jpg", lambda: pattern(400, 300).jpegsave_buffer(interlace=True, subsample_mode="on"), 3),
    ("interlaced.png", lambda: pattern(400, 300).pngsave_buffer(interlace=True), 3),
    ("interlaced-16-bit.png", lambda: pattern(400, 300, 4).cast("ushort").copy(interpretation="rgb16")
     .pngsave_buffer(interlace=True, bitdepth=16), 8),
    ("lossless.webp", lambda: pattern(400, 300).webpsave_buffer(lossless=True), 4),
    ("transparent.webp", lambda: pattern(400, 300, 4).webpsave_buffer(Q=80), 4),
]
STREAMED = [
    ("baseline.jpg", lambda: pattern(400, 300).jpegsave_buffer(subsample_mode="off")),
    ("plain.png", lambda: pattern(400, 300, 4).pngsave_buffer()),
    ("lossy.webp", lambda: pattern(400, 300).webpsave_buffer(Q=80)),
]


@pytest.mark.parametrize(("name", "make", "bytes_per_pixel"), DECODED_WHOLE, ids=[n for n, _, _ in DECODED_WHOLE])
def test_the_pixel_budget_counts_the_memory_of_a_whole_decode(client, factory, sql, seller, car, monkeypatch,
                                                              name, make, bytes_per_pixel):
    content, headers = make(), factory.headers(seller)
    monkeypatch.setattr(images_service, "WHOLE_DECODE_BYTES", 400 * 300 * bytes_per_pixel)
    fits = upload(client, car["id"], [(content, name)], headers)
    monkeypatch.setattr(images_service, "WHOLE_DECODE_BYTES", 400 * 300 * bytes_per_pixel - 1)
    too_big = upload(client, car["id"], [(content, name)], headers)

    assert fits.status_code == 201
    assert too_big.status_code == 400
    assert too_big.get_json()["error"].startswith(f"'{name}': ")
    assert "megapixels (this one has 0.1)" in too_big.get_json()["error"]
    assert len(stored_images(sql, car["id"])) == 1


@pytest.mark.parametrize(("name", "make"), STREAMED, ids=[name for name, _ in STREAMED])
def test_images_libvips_shrinks_while_decoding_are_not_held_to_the_pixel_budget(client, factory, sql, seller, car,
                                                                               monkeypatch, name, make):
    monkeypatch.setattr(images_service, "WHOLE_DECODE_BYTES", 1)

    response = upload(client, car["id"], [(make(), name)], factory.headers(seller))

    assert response.status_code == 201
    assert len(stored_images(sql, car["id"])) == 1


CUT_SHORT = [
    ("half.png", lambda: pattern(2000, 1500).pngsave_buffer()),
    ("half.jpg", lambda: pattern(2000, 1500).jpegsave_buffer()),
    ("half-progressive.jpg", lambda: pattern(2000, 1500).jpegsave_buffer(interlace=True)),
    ("half.webp", lambda: pattern(2000, 1500).webpsave_buffer()),
    ("half-interlaced.png", lambda: pattern(600, 400).pngsave_buffer(interlace=True)),
]


@pytest.mark.parametrize(("name", "make"), CUT_SHORT, ids=[name for name, _ in CUT_SHORT])
def test_a_truncated_image_is_refused_naming_the_file_with_at_most_one_line_of_log(client, factory, sql, seller, car,
                                                                                 caplog, name, make):
    content = make()
    headers = factory.headers(seller)
    caplog.set_level(logging.INFO)  # the most the service logs (LOG_LEVEL); DEBUG adds pyvips' own tracing
    caplog.clear()

    response = upload(client, car["id"], [(content[:len(content) // 2], name)], headers)

    assert response.status_code == 400
    assert response.get_json()["error"] == f"'{name}': the image data is damaged and could not be decoded"
    assert stored_images(sql, car["id"]) == []
    lines = [record for record in caplog.records if record.name != "cms.request"]  # the request's own line
    assert len(lines) <= 1, [record.getMessage() for record in lines]


def test_an_upload_needs_between_1_and_10_files(client, factory, sql, seller, car):
    headers = factory.headers(seller)

    none = client.post(f"/api/cars/{car['id']}/images", data={}, headers=headers, content_type="multipart/form-data")
    json_body = client.post(f"/api/cars/{car['id']}/images", json={"images": []}, headers=headers)
    eleven = upload(client, car["id"], [(image_bytes(), f"{n}.jpg") for n in range(11)], headers)

    assert none.status_code == 400 and "images" in none.get_json()["error"]
    assert json_body.status_code == 400
    assert eleven.status_code == 400 and "at most 10" in eleven.get_json()["error"]
    assert stored_images(sql, car["id"]) == []


def test_a_car_holds_at_most_10_images(client, factory, sql, seller, car):
    headers = factory.headers(seller)
    for order in range(9):
        add_image(factory, car, display_order=order, is_primary=order == 0)

    too_many = upload(client, car["id"], [(image_bytes(), "a.jpg"), (image_bytes(), "b.jpg")], headers)
    tenth = upload(client, car["id"], [(image_bytes(), "a.jpg")], headers)
    eleventh = upload(client, car["id"], [(image_bytes(), "b.jpg")], headers)

    assert too_many.status_code == 400
    assert too_many.get_json()["error"] == (
        "A car can have at most 10 images: this one has 9, so at most 1 more can be added (got 2)")
    assert tenth.status_code == 201
    assert eleventh.status_code == 400
    assert len(stored_images(sql, car["id"])) == 10


def test_concurrent_uploads_never_exceed_10_images_per_car(app, factory, sql, seller, car, monkeypatch):
    headers = factory.headers(seller)
    for order in range(4):
        add_image(factory, car, display_order=order, is_primary=order == 0)
    # Both requests pass the early count check (4 + 4 <= 10) and decode their files, then wait for each
    # other, so that they reach the transaction together: only the car row lock keeps the total at 10.
    decoded = threading.Barrier(2, timeout=10)
    process_files = images_service.process_files

    def process_then_wait(files):
        processed = process_files(files)
        decoded.wait()
        return processed

    monkeypatch.setattr(images_service, "process_files", process_then_wait)
    statuses = []

    def send():
        files = [(image_bytes(), f"{n}.jpg") for n in range(4)]
        statuses.append(upload(app.test_client(), car["id"], files, headers).status_code)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [201, 400]
    rows = stored_images(sql, car["id"])
    assert len(rows) == 8
    assert sum(row["is_primary"] for row in rows) == 1
    assert [row["display_order"] for row in rows] == list(range(8))


def test_admin_uploads_to_any_car(client, factory, car):
    response = upload(client, car["id"], [(image_bytes(), "a.jpg")], factory.headers(factory.user("admin")))

    assert response.status_code == 201
    body = response.get_json()
    assert body["message"] == "1 image uploaded"
    assert [(image["carId"], image["isPrimary"]) for image in body["images"]] == [(car["id"], True)]


def test_upload_is_refused_to_other_sellers_buyers_and_anonymous_callers(client, factory, sql, car):
    files = [(image_bytes(), "a.jpg")]

    other_seller = upload(client, car["id"], files, factory.headers(factory.user("seller")))
    buyer = upload(client, car["id"], files, factory.headers(factory.user("user")))
    anonymous = upload(client, car["id"], files, {})

    assert (other_seller.status_code, other_seller.get_json()) == (403, {"error": "Forbidden"})
    assert buyer.status_code == 403
    assert (anonymous.status_code, anonymous.get_json()) == (401, {"error": "No token"})
    assert stored_images(sql, car["id"]) == []


def test_upload_to_an_unknown_or_non_numeric_car(client, factory, seller):
    headers = factory.headers(seller)

    unknown = upload(client, 999, [(image_bytes(), "a.jpg")], headers)
    bad = upload(client, "abc", [(image_bytes(), "a.jpg")], headers)

    assert (unknown.status_code, error_of(unknown)) == (404, "Not found")
    assert (bad.status_code, error_of(bad)) == (400, "Invalid id in the URL: it must be a positive whole number")


# --- GET /api/cars/:carId/images and the file route ----------------------------------

def test_list_images_in_display_order_with_urls(client, factory, car):
    later = add_image(factory, car, display_order=2)
    first = add_image(factory, car, display_order=0, is_primary=True)
    linked = add_image(factory, car, display_order=1, with_file=False, image_url="/images/car1.png")
    add_image(factory, factory.car(factory.user("seller")))

    response = client.get(f"/api/cars/{car['id']}/images")

    assert response.status_code == 200
    body = response.get_json()
    assert [image["id"] for image in body] == [first["id"], linked["id"], later["id"]]
    assert all(set(image) == IMAGE_FIELDS for image in body)
    assert body[0]["imageUrl"] == f"http://localhost/api/cars/{car['id']}/images/{first['id']}/file"
    assert body[1]["imageUrl"] == "/images/car1.png"


def test_list_images_of_an_unknown_car_is_a_404_and_a_bad_id_a_400(client):
    unknown, bad = client.get("/api/cars/999/images"), client.get("/api/cars/x/images")

    assert (unknown.status_code, error_of(unknown)) == (404, "Not found")
    assert (bad.status_code, error_of(bad)) == (400, "Invalid id in the URL: it must be a positive whole number")


def test_the_file_route_serves_the_bytes_with_cache_headers_and_answers_304(client, factory, sql, seller, car):
    uploaded = upload(client, car["id"], [(image_bytes("PNG", (400, 300)), "a.png")], factory.headers(seller))
    url = uploaded.get_json()["images"][0]["imageUrl"]
    [row] = stored_images(sql, car["id"])

    response = client.get(url)

    assert response.status_code == 200
    assert response.content_type == "image/jpeg"
    assert response.data == bytes(row["content"])
    assert Image.open(io.BytesIO(response.data)).size == (400, 300)
    assert response.headers["ETag"] == f'"{row["etag"]}"'
    cache_control = response.headers["Cache-Control"]
    assert "immutable" in cache_control and "max-age=31536000" in cache_control and "public" in cache_control
    assert response.headers["X-Content-Type-Options"] == "nosniff"

    cached = client.get(url, headers={"If-None-Match": response.headers["ETag"]})
    assert cached.status_code == 304
    assert cached.data == b""
    assert cached.headers["ETag"] == response.headers["ETag"]
    stale = client.get(url, headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200 and stale.data == response.data


def test_the_file_route_is_a_404_for_unknown_images_other_cars_and_plain_links(client, factory, car):
    image = add_image(factory, car, is_primary=True)
    linked = add_image(factory, car, with_file=False, image_url="/images/car1.png", display_order=1)
    other_car = factory.car(factory.user("seller"))

    for path in (f"/api/cars/{car['id']}/images/999/file",
                 f"/api/cars/{other_car['id']}/images/{image['id']}/file",
                 f"/api/cars/{car['id']}/images/{linked['id']}/file"):
        response = client.get(path)
        assert (response.status_code, error_of(response)) == (404, "Image not found"), path
    response = client.get(f"/api/cars/{car['id']}/images/abc/file")
    assert response.status_code == 400
    assert error_of(response) == "Invalid id in the URL: it must be a positive whole number"


def test_stored_bytes_of_a_non_image_type_are_not_served_as_that_type(client, factory, car):
    image = factory.row("car_images", car_id=car["id"], is_primary=True, display_order=0)
    factory.row("car_image_files", image_id=image["id"], content_type="text/html", content=b"<script>x</script>",
                byte_size=18, etag="html")

    response = client.get(f"/api/cars/{car['id']}/images/{image['id']}/file")

    assert response.content_type == "application/octet-stream"


# --- PUT /api/cars/:carId/images/:imageId --------------------------------------------

def test_making_an_image_primary_clears_the_others(client, factory, sql, seller, car):
    first = add_image(factory, car, display_order=0, is_primary=True)
    second = add_image(factory, car, display_order=1)

    response = client.put(f"/api/cars/{car['id']}/images/{second['id']}", json={"isPrimary": True},
                          headers=factory.headers(seller))

    assert response.status_code == 200
    body = response.get_json()
    assert body["message"] == "Image updated"
    assert set(body["image"]) == IMAGE_FIELDS
    assert (body["image"]["id"], body["image"]["isPrimary"]) == (second["id"], True)
    assert body["image"]["imageUrl"].endswith(f"/api/cars/{car['id']}/images/{second['id']}/file")
    rows = {row["id"]: row["is_primary"] for row in stored_images(sql, car["id"])}
    assert rows == {first["id"]: False, second["id"]: True}


def test_making_the_primary_image_primary_again_changes_nothing(client, factory, sql, seller, car):
    first = add_image(factory, car, is_primary=True)

    response = client.put(f"/api/cars/{car['id']}/images/{first['id']}", json={"isPrimary": True},
                          headers=factory.headers(seller))

    assert response.status_code == 200
    assert [row["is_primary"] for row in stored_images(sql, car["id"])] == [True]


def test_reordering_an_image(client, factory, sql, seller, car):
    first = add_image(factory, car, display_order=0, is_primary=True)
    second = add_image(factory, car, display_order=1)

    response = client.put(f"/api/cars/{car['id']}/images/{first['id']}", json={"displayOrder": 5},
                          headers=factory.headers(seller))

    assert response.status_code == 200
    assert response.get_json()["image"]["displayOrder"] == 5
    assert response.get_json()["image"]["isPrimary"] is True
    listed = client.get(f"/api/cars/{car['id']}/images").get_json()
    assert [image["id"] for image in listed] == [second["id"], first["id"]]


def test_the_only_primary_image_cannot_be_unmarked(client, factory, sql, seller, car):
    first = add_image(factory, car, is_primary=True)
    other = add_image(factory, car, display_order=1)

    refused = client.put(f"/api/cars/{car['id']}/images/{first['id']}", json={"isPrimary": False},
                         headers=factory.headers(seller))
    harmless = client.put(f"/api/cars/{car['id']}/images/{other['id']}", json={"isPrimary": False},
                          headers=factory.headers(seller))

    assert refused.status_code == 400
    assert harmless.status_code == 200
    assert [row["is_primary"] for row in stored_images(sql, car["id"])] == [True, False]


def test_invalid_image_edits_are_a_400(client, factory, seller, car, subtests):
    image = add_image(factory, car, is_primary=True)
    headers = factory.headers(seller)
    for body in ({"displayOrder": -1}, {"displayOrder": "first"}, {"displayOrder": 1.5}, {"isPrimary": "maybe"},
                 {"isPrimary": None}):
        with subtests.test(body=body):
            response = client.put(f"/api/cars/{car['id']}/images/{image['id']}", json=body, headers=headers)

            assert response.status_code == 400
            assert list(response.get_json()["details"]) == list(body)


def test_editing_an_image_of_another_car_or_an_unknown_image_is_a_404(client, factory, seller, car):
    other_car = factory.car(seller)
    foreign = add_image(factory, other_car, is_primary=True)
    headers = factory.headers(seller)

    assert client.put(f"/api/cars/{car['id']}/images/{foreign['id']}", json={"isPrimary": True},
                      headers=headers).status_code == 404
    assert client.put(f"/api/cars/{car['id']}/images/999", json={}, headers=headers).status_code == 404
    assert client.put(f"/api/cars/999/images/{foreign['id']}", json={}, headers=headers).status_code == 404
    assert client.put(f"/api/cars/{car['id']}/images/x", json={}, headers=headers).status_code == 400


def test_image_edits_are_refused_to_other_sellers_buyers_and_anonymous_callers(client, factory, sql, car):
    first = add_image(factory, car, is_primary=True)
    second = add_image(factory, car, display_order=1)
    url = f"/api/cars/{car['id']}/images/{second['id']}"

    assert client.put(url, json={"isPrimary": True}, headers=factory.headers(factory.user("seller"))).status_code == 403
    assert client.put(url, json={"isPrimary": True}, headers=factory.headers(factory.user())).status_code == 403
    assert client.put(url, json={"isPrimary": True}).status_code == 401
    assert client.put(url, json={"isPrimary": True},
                      headers=factory.headers(factory.user("admin"))).status_code == 200
    rows = {row["id"]: row["is_primary"] for row in stored_images(sql, car["id"])}
    assert rows == {first["id"]: False, second["id"]: True}


# --- DELETE /api/cars/:carId/images/:imageId -----------------------------------------

def test_deleting_the_primary_image_hands_primary_to_the_first_remaining(client, factory, sql, seller, car):
    primary = add_image(factory, car, display_order=0, is_primary=True)
    third = add_image(factory, car, display_order=2)
    second = add_image(factory, car, display_order=1)

    response = client.delete(f"/api/cars/{car['id']}/images/{primary['id']}", headers=factory.headers(seller))

    assert response.status_code == 200
    assert response.get_json() == {"message": "Image deleted"}
    rows = {row["id"]: row["is_primary"] for row in stored_images(sql, car["id"])}
    assert rows == {second["id"]: True, third["id"]: False}
    assert sql.execute("SELECT count(*) AS n FROM car_image_files WHERE image_id = %s",
                       (primary["id"],)).fetchone()["n"] == 0


def test_deleting_another_image_keeps_the_primary_one(client, factory, sql, seller, car):
    primary = add_image(factory, car, display_order=1, is_primary=True)
    other = add_image(factory, car, display_order=0)

    client.delete(f"/api/cars/{car['id']}/images/{other['id']}", headers=factory.headers(seller))

    assert [(row["id"], row["is_primary"]) for row in stored_images(sql, car["id"])] == [(primary["id"], True)]


def test_deleting_the_last_image_leaves_none(client, factory, sql, seller, car):
    only = add_image(factory, car, is_primary=True)

    response = client.delete(f"/api/cars/{car['id']}/images/{only['id']}", headers=factory.headers(seller))

    assert response.status_code == 200
    assert stored_images(sql, car["id"]) == []


def test_deleting_an_image_of_another_car_or_an_unknown_image_is_a_404(client, factory, sql, seller, car):
    foreign = add_image(factory, factory.car(seller), is_primary=True)
    headers = factory.headers(seller)

    assert client.delete(f"/api/cars/{car['id']}/images/{foreign['id']}", headers=headers).status_code == 404
    assert client.delete(f"/api/cars/{car['id']}/images/999", headers=headers).status_code == 404
    assert client.delete(f"/api/cars/999/images/{foreign['id']}", headers=headers).status_code == 404
    assert client.delete(f"/api/cars/{car['id']}/images/1x", headers=headers).status_code == 400
    assert sql.execute("SELECT count(*) AS n FROM car_images").fetchone()["n"] == 1


def test_image_deletes_are_refused_to_other_sellers_buyers_and_anonymous_callers(client, factory, sql, car):
    image = add_image(factory, car, is_primary=True)
    url = f"/api/cars/{car['id']}/images/{image['id']}"

    assert client.delete(url, headers=factory.headers(factory.user("seller"))).status_code == 403
    assert client.delete(url, headers=factory.headers(factory.user())).status_code == 403
    assert client.delete(url).status_code == 401
    assert len(stored_images(sql, car["id"])) == 1
    assert client.delete(url, headers=factory.headers(factory.user("admin"))).status_code == 200


# --- adopting an old database: data: URLs move into car_image_files -------------------

def dbmate(url: str, migrations_dir: Path, *args: str) -> None:
    binary = Path(sys.executable).parent / "dbmate"
    subprocess.run(
        [str(binary), "--url", db.dbmate_url(url), "--migrations-dir", str(migrations_dir), "--no-dump-schema", *args],
        check=True, capture_output=True, text=True,
    )


def test_old_data_url_images_are_moved_into_car_image_files_and_served(fresh_database, make_app, tmp_path):
    url = fresh_database("images_adopt")
    before_0008 = tmp_path / "migrations"
    before_0008.mkdir()
    for path in sorted(db.MIGRATIONS_DIR.glob("[0-9]*_*.sql")):
        if path.name < "0008":
            shutil.copy(path, before_0008 / path.name)
    dbmate(url, before_0008, "up")

    png = image_bytes("PNG", (120, 100))
    with psycopg.connect(url, autocommit=True) as conn:
        seller_id = conn.execute(
            "INSERT INTO users (name, email, password_hash, role) VALUES ('Old', 'old@example.com', 'x', 'seller') "
            "RETURNING id").fetchone()[0]
        car_id = conn.execute(
            "INSERT INTO cars (title, price, seller_id, status) VALUES ('Old car', 1000, %s, 'available') RETURNING id",
            (seller_id,)).fetchone()[0]
        data_url = "data:image/png;base64," + base64.b64encode(png).decode()
        uploaded_id, linked_id, broken_id = (
            conn.execute(
                "INSERT INTO car_images (car_id, image_url, is_primary, display_order) VALUES (%s, %s, %s, %s) "
                "RETURNING id", (car_id, image_url, primary, order)).fetchone()[0]
            for image_url, primary, order in (
                (data_url, True, 0), ("/images/car1.png", False, 1), ("data:image/png;base64,@@not base64@@", False, 2),
            )
        )

    db.run_dbmate(url, "up")

    with psycopg.connect(url, autocommit=True) as conn:
        files = conn.execute("SELECT image_id, content_type, content FROM car_image_files").fetchall()
        urls = dict(conn.execute("SELECT id, image_url FROM car_images").fetchall())
        repairs = conn.execute(
            "SELECT row_id, old_value #>> '{}' FROM legacy_row_repairs"
            " WHERE table_name = 'car_images' AND column_name = 'image_url'"
        ).fetchall()
    assert files == [(uploaded_id, "image/png", png)]
    assert urls[uploaded_id] is None
    assert urls[linked_id] == "/images/car1.png"
    assert broken_id not in urls  # its URL moved whole into its repair record (0017), its row gone (0036)
    assert repairs == [(broken_id, "data:image/png;base64,@@not base64@@")]

    client = make_app(database_url=url).test_client()
    listing = client.get("/api/cars")
    [car] = listing.get_json()
    assert car["primaryImage"]["imageUrl"] == f"http://localhost/api/cars/{car_id}/images/{uploaded_id}/file"
    assert b"base64" not in listing.data
    detail = client.get(f"/api/cars/{car_id}").get_json()
    assert [image["imageUrl"] for image in detail["images"]] == [
        f"http://localhost/api/cars/{car_id}/images/{uploaded_id}/file", "/images/car1.png",
    ]
    served = client.get(f"/api/cars/{car_id}/images/{uploaded_id}/file")
    assert served.status_code == 200
    assert served.content_type == "image/png"
    assert served.data == png
    assert served.headers["ETag"]


# --- metadata and decoding cost (issue 13) ---------------------------------------------

def jpeg_markers(content: bytes) -> list[int]:
    """The JPEG segment markers before the image data (0xE0-0xEF: APPn, 0xFE: comment)."""
    markers, position = [], 2
    while position + 4 <= len(content) and content[position] == 0xFF:
        marker = content[position + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            break
        position += 2 + int.from_bytes(content[position + 2:position + 4], "big")
    return markers


def phone_photo() -> bytes:
    """A 300×200 JPEG like a phone's: rotated by EXIF (orientation 6), GPS position, a comment,
    an ICC profile; its left third is red, the rest blue."""
    image = Image.new("RGB", (300, 200), (20, 40, 220))
    image.paste((220, 20, 20), (0, 0, 100, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95, exif=exif.tobytes(), comment=b"<script>alert(1)</script>")
    return buffer.getvalue()


def test_stored_images_keep_no_metadata_and_have_their_orientation_applied(client, factory, sql, seller, car):
    response = upload(client, car["id"], [(phone_photo(), "phone.jpg")], factory.headers(seller))

    assert response.status_code == 201
    [row] = stored_images(sql, car["id"])
    content = bytes(row["content"])
    # Only the JFIF header, tables and frame: no EXIF/XMP (APP1), ICC (APP2), other APPn or comment (COM).
    assert not {marker for marker in jpeg_markers(content) if 0xE1 <= marker <= 0xEF or marker == 0xFE}
    for secret in (b"<script>", b"PhoneMaker", b"Exif"):
        assert secret not in content
    stored = Image.open(io.BytesIO(content))
    assert not stored.getexif()
    # Turned upright: 200×300, and the red left third is now the top third.
    assert (row["width"], row["height"]) == stored.size == (200, 300)
    red, blue = stored.convert("RGB").getpixel((100, 30)), stored.convert("RGB").getpixel((100, 250))
    assert red[0] > 150 and red[2] < 100
    assert blue[2] > 150 and blue[0] < 100



def test_a_process_decodes_one_image_at_a_time_however_many_uploads_arrive(app, factory, seller, car, monkeypatch):
    """The concurrency cap that bounds a worker's image memory (the figures are in bench/images.py)."""
    headers = factory.headers(seller)
    reencode = images_service._reencode
    running, most = 0, 0
    lock = threading.Lock()

    def counting_reencode(data):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            threading.Event().wait(0.05)
            return reencode(data)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(images_service, "_reencode", counting_reencode)
    statuses = []

    def send():
        statuses.append(upload(app.test_client(), car["id"], [(image_bytes(), "a.jpg")], headers).status_code)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [201] * 4
    assert most == images_service.IMAGE_JOBS_PER_PROCESS == 1
