"""Car image uploads: the contract's rules, Pillow re-encoding, and public URLs of stored files.

Rules (api-contract.md, car images): 1–10 files per request in the multipart field `images`;
JPEG, PNG or WebP as decoded (the file name and declared type are not trusted); at most 5 MB
each; each side between 100 and 10000 px; at most 10 images per car. Stored as JPEG fitting
inside 1920×1080. Any violation names the file and the rule, and nothing is stored.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from flask import current_app, request
from PIL import Image, ImageOps, UnidentifiedImageError
from werkzeug.datastructures import FileStorage

from cms.errors import Invalid

FIELD_NAME = "images"
MAX_FILES_PER_REQUEST = 10
MAX_IMAGES_PER_CAR = 10
MAX_FILE_BYTES = 5 * 1024 * 1024
MIN_SIDE = 100
MAX_SIDE = 10_000
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
STORED_BOX = (1920, 1080)
STORED_CONTENT_TYPE = "image/jpeg"
JPEG_QUALITY = 85
FILE_ROUTE = "/api/cars/{car_id}/images/{image_id}/file"

# Pillow refuses (DecompressionBombError) images over twice this many pixels while reading the
# header, before any pixel is decoded; up to this many it stays silent. Our own rule (≤ 10000 px a
# side) is checked right after the header too, so no oversized image is ever decoded.
Image.MAX_IMAGE_PIXELS = MAX_SIDE * MAX_SIDE


@dataclass(frozen=True)
class ProcessedImage:
    """An upload re-encoded for storage."""

    content: bytes
    width: int
    height: int
    etag: str
    content_type: str = STORED_CONTENT_TYPE


def uploaded_files() -> list[FileStorage]:
    """The request's files in the `images` field (empty parts of a form are skipped); 400 unless 1–10."""
    files = [f for f in request.files.getlist(FIELD_NAME) if f.filename or f.content_length]
    if not files:
        raise Invalid(f"Send 1 to {MAX_FILES_PER_REQUEST} image files in the multipart form field '{FIELD_NAME}'")
    if len(files) > MAX_FILES_PER_REQUEST:
        raise Invalid(f"Too many files: at most {MAX_FILES_PER_REQUEST} images per upload (got {len(files)})")
    return files


def check_room(current_count: int, adding: int) -> None:
    """400 when the car would end up with more than MAX_IMAGES_PER_CAR images."""
    if current_count + adding > MAX_IMAGES_PER_CAR:
        room = max(0, MAX_IMAGES_PER_CAR - current_count)
        raise Invalid(
            f"A car can have at most {MAX_IMAGES_PER_CAR} images: this one has {current_count}, "
            f"so at most {room} more can be added (got {adding})"
        )


def process_files(files: list[FileStorage]) -> list[ProcessedImage]:
    """Check and re-encode every file; the first violation raises Invalid naming its file."""
    processed = []
    for position, upload in enumerate(files, start=1):
        name = _display_name(upload, position)
        processed.append(process_image(name, upload.stream.read(MAX_FILE_BYTES + 1)))
    return processed


def process_image(name: str, data: bytes) -> ProcessedImage:
    """Validate one upload and re-encode it as a JPEG fitting inside STORED_BOX."""
    if len(data) > MAX_FILE_BYTES:
        raise Invalid(f"{name}: the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    if not data:
        raise Invalid(f"{name}: the file is empty")
    try:
        with Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS) as image:
            width, height = image.size
            if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
                raise Invalid(
                    f"{name}: the image is {width}×{height} px; each side must be between "
                    f"{MIN_SIDE} and {MAX_SIDE} px"
                )
            if image.format == "JPEG":
                # Decode JPEGs at a reduced scale straight away (never below the target box).
                image.draft("RGB", (STORED_BOX[0], STORED_BOX[0]))
            image.load()
            stored = _fit_for_storage(image)
    except UnidentifiedImageError:
        raise Invalid(f"{name}: not a JPEG, PNG or WebP image (only these formats are accepted)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Invalid(
            f"{name}: the image has too many pixels; each side must be between {MIN_SIDE} and {MAX_SIDE} px"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise Invalid(f"{name}: the image data is damaged and could not be decoded") from None
    output = io.BytesIO()
    stored.save(output, "JPEG", quality=JPEG_QUALITY, optimize=True)
    content = output.getvalue()
    return ProcessedImage(
        content=content, width=stored.width, height=stored.height, etag=hashlib.sha256(content).hexdigest(),
    )


def _fit_for_storage(image: Image.Image) -> Image.Image:
    """Upright (EXIF orientation), RGB on white where transparent, inside STORED_BOX."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flattened = Image.new("RGB", rgba.size, (255, 255, 255))
        flattened.paste(rgba, mask=rgba.getchannel("A"))
        image = flattened
    elif image.mode != "RGB":
        image = image.convert("RGB")
    image.thumbnail(STORED_BOX, Image.Resampling.LANCZOS)
    return image


def _display_name(upload: FileStorage, position: int) -> str:
    name = (upload.filename or "").replace("\n", " ").strip()
    if len(name) > 100:
        name = name[:97] + "..."
    return f"'{name}'" if name else f"file {position}"


# --- public URLs ---------------------------------------------------------------------

def public_base_url() -> str:
    """PUBLIC_BASE_URL when configured, else the scheme and host the request came to."""
    configured = current_app.config["CMS_SETTINGS"].public_base_url
    return (configured or request.host_url).rstrip("/")


def with_public_url(image: dict | None, base_url: str | None = None) -> dict | None:
    """The image row with image_url absolute when its bytes are stored here; plain links stay as stored."""
    if image is None or not image.get("has_file"):
        return image
    base = base_url if base_url is not None else public_base_url()
    path = FILE_ROUTE.format(car_id=image["car_id"], image_id=image["id"])
    return {**image, "image_url": base + path}


def with_public_urls(images: list[dict]) -> list[dict]:
    base = public_base_url()
    return [with_public_url(image, base) for image in images]
