"""Car images: listing, uploading (the contract's rules, libvips re-encoding), editing and
removing them, their stored files, and the public URLs of those files.

Rules (api-contract.md, car images): 1–10 files per request in the multipart field `images`;
JPEG, PNG or WebP as decoded (the file name and declared type are not trusted); at most 5 MB
each; each side between 100 and 10000 px; at most 10 images per car. Stored as JPEG fitting
inside 1920×1080. Any violation names the file and the rule, and nothing is stored.

Decoding: an image library that decodes the whole image before shrinking it (Pillow) takes a worker
to 1.7 GB for a 389 KB PNG of 10000×10000 px. libvips (pyvips with its binary wheel) shrinks while
it decodes (`thumbnail_buffer`: shrink-on-load for JPEG and WebP, streaming for PNG), so memory
stays near the output size; bench/images.py measures both. The image is turned upright by its
EXIF orientation and saved with no metadata at all (EXIF with GPS positions, XMP, ICC, comments).
At most IMAGE_JOBS_PER_PROCESS files are decoded at once per process, libvips keeps no cache of
operations, and freed memory goes back to the system after each file.

What libvips cannot shrink while decoding it decodes whole, at full size: a progressive (multi-scan)
JPEG, an Adam7-interlaced PNG, a lossless WebP or one with an alpha channel. A 10000×10000 16-bit
RGBA interlaced PNG of 1 MB holds 839 MB. Such a file is refused when its whole decode would hold
more than WHOLE_DECODE_BYTES, judged from its header before any pixel is decoded (bench/image_bombs.py
measures what each kind costs). A file cut short is refused (fail_on="truncated"), not stored as
the part that arrived.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import BinaryIO, Protocol

import pyvips
from psycopg import Connection

from cms.errors import Invalid, NotFound
from cms.repositories import cars as cars_repo
from cms.repositories import images as images_repo
from cms.services import audit
from cms.services.access import Caller, managed_car

FIELD_NAME = "images"
MAX_FILES_PER_REQUEST = 10
MAX_IMAGES_PER_CAR = 10
MAX_FILE_BYTES = 5 * 1024 * 1024
MIN_SIDE = 100
MAX_SIDE = 10_000
# libvips' loader for each accepted format (decided from the bytes, never from the name).
ACCEPTED_LOADERS = {"jpegload_buffer": "JPEG", "pngload_buffer": "PNG", "webpload_buffer": "WEBP"}
# How those formats start: a file that does but whose header cannot be read is damaged, not foreign.
_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")
# What a whole decode may hold per file: a worker decodes one file at a time, so four concurrent
# uploads of the largest accepted bombs add well under 800 MB even spread over four workers
# (bench/results/2026-12-07-image-bombs.md). Car photos are stored at 1920×1080: at 128 MiB a
# progressive JPEG may have 22 megapixels (44 at 4:2:0 chroma), an interlaced 8-bit RGB PNG 44.
WHOLE_DECODE_BYTES = 128 * 1024 * 1024
STORED_BOX = (1920, 1080)
STORED_CONTENT_TYPE = "image/jpeg"
JPEG_QUALITY = 85
FILE_ROUTE = "/api/cars/{car_id}/images/{image_id}/file"
# One file decoded at a time per process, with one libvips thread: a worker's image work uses one
# core and ~120 MB at most, so /ping and the other requests keep the rest (bench/images.py).
IMAGE_JOBS_PER_PROCESS = 1
_IMAGE_JOBS = threading.BoundedSemaphore(IMAGE_JOBS_PER_PROCESS)

pyvips.cache_set_max(0)  # the operation cache would keep decoded pixels alive after the request
pyvips.vips_lib.vips_concurrency_set(1)
# libvips' own messages (pyvips passes them to the logger "pyvips"): a line per thumbnail at INFO, and a
# line per row of a damaged file at WARNING (600-5,500 for half a PNG). Every failure also raises
# pyvips.Error, answered as a 400 naming the file, so only its errors and criticals are logged.
logging.getLogger("pyvips").setLevel(logging.ERROR)
_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


def _return_memory() -> None:
    """Give the pages libvips freed back to the system (glibc keeps them in its arenas otherwise)."""
    trim = getattr(_LIBC, "malloc_trim", None)
    if trim is not None:
        trim(0)


class Upload(Protocol):
    """An uploaded file as the api layer hands it over (werkzeug's FileStorage is one)."""

    filename: str | None
    stream: BinaryIO


@dataclass(frozen=True)
class ProcessedImage:
    """An upload re-encoded for storage."""

    content: bytes
    width: int
    height: int
    etag: str
    content_type: str = STORED_CONTENT_TYPE


def check_file_count(files: Sequence[Upload]) -> None:
    """400 unless the request carries 1 to MAX_FILES_PER_REQUEST files."""
    if not files:
        raise Invalid(f"Send 1 to {MAX_FILES_PER_REQUEST} image files in the multipart form field '{FIELD_NAME}'")
    if len(files) > MAX_FILES_PER_REQUEST:
        raise Invalid(f"Too many files: at most {MAX_FILES_PER_REQUEST} images per upload (got {len(files)})")


def check_room(current_count: int, adding: int) -> None:
    """400 when the car would end up with more than MAX_IMAGES_PER_CAR images."""
    if current_count + adding > MAX_IMAGES_PER_CAR:
        room = max(0, MAX_IMAGES_PER_CAR - current_count)
        raise Invalid(
            f"A car can have at most {MAX_IMAGES_PER_CAR} images: this one has {current_count}, "
            f"so at most {room} more can be added (got {adding})"
        )


def process_files(files: Sequence[Upload]) -> list[ProcessedImage]:
    """Check and re-encode every file; the first violation raises Invalid naming its file."""
    processed = []
    for position, upload in enumerate(files, start=1):
        name = _display_name(upload, position)
        processed.append(process_image(name, upload.stream.read(MAX_FILE_BYTES + 1)))
    return processed


def process_image(name: str, data: bytes) -> ProcessedImage:
    """Validate one upload and re-encode it as a metadata-free JPEG fitting inside STORED_BOX."""
    if len(data) > MAX_FILE_BYTES:
        raise Invalid(f"{name}: the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    if not data:
        raise Invalid(f"{name}: the file is empty")
    _check_header(name, data)  # reads the header only: no pixel is decoded for a refused file
    with _IMAGE_JOBS:
        try:
            content, width, height = _reencode(data)
        except pyvips.Error:
            raise Invalid(f"{name}: the image data is damaged and could not be decoded") from None
        finally:
            _return_memory()
    return ProcessedImage(content=content, width=width, height=height, etag=hashlib.sha256(content).hexdigest())


def _check_header(name: str, data: bytes) -> None:
    try:
        header = pyvips.Image.new_from_buffer(data, "", access="sequential")  # reads the header only
        loader = header.get("vips-loader")
    except pyvips.Error:
        loader = None
    if loader is None and (data.startswith(_SIGNATURES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")):
        raise Invalid(f"{name}: the image data is damaged and could not be decoded")
    if loader not in ACCEPTED_LOADERS:
        raise Invalid(f"{name}: not a JPEG, PNG or WebP image (only these formats are accepted)")
    width, height = header.width, header.height
    if width * height > 2 * MAX_SIDE * MAX_SIDE:
        raise Invalid(
            f"{name}: the image has too many pixels; each side must be between {MIN_SIDE} and {MAX_SIDE} px"
        )
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise Invalid(
            f"{name}: the image is {width}×{height} px; each side must be between {MIN_SIDE} and {MAX_SIDE} px"
        )
    whole = _whole_decode(header, data)
    if whole is not None:
        kind, bytes_per_pixel, advice = whole
        most = int(WHOLE_DECODE_BYTES // bytes_per_pixel)
        if width * height > most:
            raise Invalid(f"{name}: {kind} is decoded whole, so it may have at most {most / 1e6:.1f} megapixels "
                          f"(this one has {width * height / 1e6:.1f}); {advice}")


def _whole_decode(header: pyvips.Image, data: bytes) -> tuple[str, float, str] | None:
    """(what the file is, bytes per pixel its whole decode holds, how to send it instead), or None when
    libvips shrinks or streams it while decoding (baseline JPEG, non-interlaced PNG, lossy WebP).
    Bytes per pixel as measured in bench/image_bombs.py."""
    loader = header.get("vips-loader")
    if loader == "jpegload_buffer" and _header_field(header, "jpeg-multiscan"):
        # libjpeg holds every DCT coefficient, 2 bytes per sample; at 4:2:0 each chroma plane has a quarter.
        subsampled = header.bands == 3 and _header_field(header, "jpeg-chroma-subsample") == "4:2:0"
        samples = 1.5 if subsampled else header.bands
        return "a progressive JPEG", 2 * samples, "save it as a baseline (not progressive) JPEG, or smaller"
    if loader == "pngload_buffer" and _header_field(header, "interlaced"):
        sample_bytes = 2 if header.format == "ushort" else 1
        return "an interlaced (Adam7) PNG", header.bands * sample_bytes, "save it without interlacing, or smaller"
    if loader == "webpload_buffer" and _webp_chunk_kinds(data) & {b"VP8L", b"ALPH"}:
        return ("a lossless WebP, or one with transparency,", 4,
                "save it as a lossy WebP without transparency or as a JPEG, or smaller")
    return None


def _header_field(header: pyvips.Image, field: str):
    """A header field's value, or None when the loader did not set it."""
    return header.get(field) if header.get_typeof(field) else None


def _webp_chunk_kinds(data: bytes) -> set[bytes]:
    """The kinds of RIFF chunk in a WebP file, those inside an animation's frames included
    (VP8L: lossless image data; ALPH: an alpha channel beside lossy data)."""
    kinds: set[bytes] = set()
    spans = [(12, len(data))]  # after "RIFF", the size and "WEBP"
    while spans:
        offset, end = spans.pop()
        while offset + 8 <= end:
            kind, size = data[offset:offset + 4], int.from_bytes(data[offset + 4:offset + 8], "little")
            kinds.add(kind)
            if kind == b"ANMF":  # a frame: 16 bytes of position and timing, then its image's chunks
                spans.append((offset + 24, min(offset + 8 + size, end)))
            offset += 8 + size + (size & 1)
    return kinds


def _reencode(data: bytes) -> tuple[bytes, int, int]:
    """Upright (EXIF orientation), sRGB, flattened on white where transparent, inside STORED_BOX,
    saved as JPEG without any metadata."""
    # fail_on=truncated: a file cut short is an error, not a picture of the part that arrived. It goes
    # to the loader through option_string; thumbnail's own fail_on argument does not reach the loader.
    image = pyvips.Image.thumbnail_buffer(data, STORED_BOX[0], height=STORED_BOX[1], size="down",
                                          option_string="fail_on=truncated")
    if image.interpretation not in ("srgb", "b-w") or image.format != "uchar":
        image = image.colourspace("srgb")
    if image.hasalpha():
        image = image.flatten(background=[255] * (image.bands - 1))
    if image.bands == 1:
        image = image.colourspace("srgb")
    content = image.jpegsave_buffer(Q=JPEG_QUALITY, optimize_coding=True, keep="none")
    return content, image.width, image.height


def _display_name(upload: Upload, position: int) -> str:
    name = (upload.filename or "").replace("\n", " ").strip()
    if len(name) > 100:
        name = name[:97] + "..."
    return f"'{name}'" if name else f"file {position}"


# --- public URLs ---------------------------------------------------------------------

def with_public_url(image: dict | None, base_url: str) -> dict | None:
    """The image row with image_url absolute when its bytes are stored here; plain links stay as stored.

    `base_url`: PUBLIC_BASE_URL, else the scheme and host the request came to (read by the api layer).
    """
    if image is None or not image.get("has_file"):
        return image
    return {**image, "image_url": base_url + file_path(image["car_id"], image["id"])}


def with_public_urls(images: Iterable[dict], base_url: str) -> list[dict]:
    return [with_public_url(image, base_url) for image in images]


def file_path(car_id: int, image_id: int) -> str:
    return FILE_ROUTE.format(car_id=car_id, image_id=image_id)


# --- the area's operations -----------------------------------------------------------

def list_images(conn: Connection, car_id: int, *, base_url: str) -> list[dict]:
    """The car's images by display order; 404 for an unknown car."""
    if cars_repo.get_car(conn, car_id) is None:
        raise NotFound()
    return with_public_urls(images_repo.list_images(conn, car_id), base_url)


def upload_images(conn: Connection, caller: Caller, car_id: int, files: Sequence[Upload], *,
                  base_url: str) -> list[dict]:
    """Check, re-encode and store the files (the first image of a car becomes primary; display
    order continues after the last); all or nothing. Returns the stored images."""
    check_file_count(files)
    managed_car(caller, cars_repo.get_car(conn, car_id))
    # Fail fast before the (slow) decoding; the check that counts is repeated under the lock below.
    check_room(images_repo.image_stats(conn, car_id)["image_count"], len(files))
    processed = process_files(files)
    with conn.transaction():
        managed_car(caller, cars_repo.lock_car(conn, car_id))
        stats = images_repo.image_stats(conn, car_id)
        check_room(stats["image_count"], len(processed))
        stored = []
        for offset, image in enumerate(processed):
            stored.append(images_repo.insert_image_with_file(
                conn, car_id,
                is_primary=not stats["has_primary"] and offset == 0,
                display_order=stats["next_display_order"] + offset,
                content=image.content, content_type=image.content_type,
                width=image.width, height=image.height, etag=image.etag,
            ))
        audit.record(conn, caller, "upload_car_images", car_id, {"imageIds": [row["id"] for row in stored]})
    return with_public_urls(stored, base_url)


def update_image(conn: Connection, caller: Caller, car_id: int, image_id: int, changes: dict, *,
                 base_url: str) -> dict:
    """Make the image primary (the car's others stop being so) and/or move it."""
    with conn.transaction():
        managed_car(caller, cars_repo.lock_car(conn, car_id))
        image = images_repo.get_image(conn, car_id, image_id)
        if image is None:
            raise NotFound("Image not found")
        if changes.get("is_primary") is False and image["is_primary"]:
            raise Invalid("A car always has one primary image: make another image primary instead")
        image = images_repo.update_image(
            conn, car_id, image_id,
            make_primary=bool(changes.get("is_primary")), display_order=changes.get("display_order"),
        )
        audit.record(conn, caller, "update_car_image", car_id, {"imageId": image_id, **changes})
    return with_public_url(image, base_url)


def delete_image(conn: Connection, caller: Caller, car_id: int, image_id: int) -> None:
    """Remove the image; when it was primary, the first remaining one becomes primary."""
    with conn.transaction():
        managed_car(caller, cars_repo.lock_car(conn, car_id))
        if images_repo.delete_image(conn, car_id, image_id) is None:
            raise NotFound("Image not found")
        audit.record(conn, caller, "delete_car_image", car_id, {"imageId": image_id})


def image_file(conn: Connection, car_id: int, image_id: int, known_etags: Iterable[str]) -> dict:
    """{content_type, etag, byte_size, content}: content None when an etag in known_etags matches."""
    file = images_repo.get_file(conn, car_id, image_id, known_etags)
    if file is None:
        raise NotFound("Image not found")
    return file
