"""Field types shared by every schema: ids, money, UTC timestamps, trimmed text."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal, InvalidOperation

from flask import current_app, request
from marshmallow import Schema, ValidationError, fields
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.routing import BaseConverter

from cms.errors import AppError, Invalid

MAX_INT4 = 2_147_483_647
MAX_PRICE = Decimal("99999999.99")  # numeric(10, 2)
# The largest legitimate JSON body is a profile with an inline avatar (a data: URL of at most
# 2,000,000 characters); the request limit (MAX_REQUEST_BYTES) is sized for image uploads.
JSON_MAX_BYTES = 4 * 1024 * 1024
# ASCII digits only: `\d` and str.isdigit() also take "１" or "٣", which would make one id
# reachable under many spellings.
_DIGITS = re.compile(r"[0-9]+", re.ASCII)


def parse_id(value) -> int | None:
    """An id from JSON or a URL: a positive integer, or a string of digits. None when invalid."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value.strip(" \t\r\n")):
        number = int(value)
    else:
        return None
    return number if 1 <= number <= MAX_INT4 else None


class Id(fields.Field):
    """A database id: JSON integer or a string of digits (the frontend sends both)."""

    default_error_messages = {"invalid": "Must be a positive whole-number id."}

    def _deserialize(self, value, attr, data, **kwargs):
        number = parse_id(value)
        if number is None:
            raise self.make_error("invalid")
        return number

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else int(value)


class Money(fields.Field):
    """A price: a JSON number (or numeric string) ≥ 0 with at most 2 decimals; dumped as a number."""

    default_error_messages = {
        "invalid": "Must be a number.",
        "range": f"Must be between 0 and {MAX_PRICE}.",
        "places": "Must have at most 2 decimal places.",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise self.make_error("invalid")
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation:
            raise self.make_error("invalid") from None
        if not amount.is_finite():
            raise self.make_error("invalid")
        if amount < 0 or amount > MAX_PRICE:
            raise self.make_error("range")
        if amount != amount.quantize(Decimal("0.01")):
            raise self.make_error("places")
        return amount.quantize(Decimal("0.01"))

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        number = float(value)
        return int(number) if number.is_integer() else number


class StrictInteger(fields.Integer):
    """An integer that refuses 4.7 and "4" alike, within PostgreSQL's int4 range."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)

    def _validated(self, value):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        number = super()._validated(value)
        if number is not None and not -MAX_INT4 <= number <= MAX_INT4:
            raise ValidationError("Number out of range.")
        return number


class UtcDateTime(fields.Field):
    """A `timestamp` column (stored in UTC) as ISO-8601 with a Z, like the old server printed."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            if value.tzinfo is not None:
                value = value.astimezone(dt.UTC).replace(tzinfo=None)
            return value.isoformat(timespec="milliseconds") + "Z"
        if isinstance(value, dt.date):
            return value.isoformat()
        return str(value)


class Text(fields.String):
    """A string, trimmed; an optional maximum length in characters."""

    def __init__(self, max_length: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.max_length = max_length

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if "\x00" in text:
            raise ValidationError("Must not contain NUL characters.")
        if self.max_length is not None and len(text) > self.max_length:
            raise ValidationError(f"Must be at most {self.max_length} characters.")
        return text


# A URL scheme (RFC 3986): a letter, then letters, digits, "+", "-" or ".", then ":".
_URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_SAFE_URL_SCHEMES = ("http", "https")
# Inline pictures (a profile's avatar): raster types only; SVG can carry script.
_IMAGE_DATA_URL = re.compile(r"data:image/(?:png|jpeg|gif|webp);base64,[A-Za-z0-9+/]+={0,2}", re.ASCII)


def _has_control_or_space(text: str) -> bool:
    """Control, format (zero-width…) or space characters: browsers drop or skip some of them
    while parsing a URL, so "\x01javascript:" or "java\tscript:" would run as script."""
    return any(char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Zs", "Zl", "Zp") for char in text)


class SafeUrl(fields.String):
    """A link a user stores and a page later puts into href or src: an http(s) URL or a relative
    one ("/images/car1.png"), nothing else (no javascript:, data:, vbscript:…). Control characters
    and whitespace are refused anywhere in it rather than trimmed. "" or null means none.
    `image_data` also accepts base64 data: URLs of PNG, JPEG, GIF or WebP (inline avatars)."""

    default_error_messages = {
        "unsafe": "Must be an http or https URL or a relative link.",
        "spaces": "Must not contain spaces or control characters.",
        "too_long": "Must be at most {max_length} characters.",
    }

    def __init__(self, max_length: int = 2048, *, image_data: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.max_length = max_length
        self.image_data = image_data

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if text == "":
            return None
        if len(text) > self.max_length:
            raise self.make_error("too_long", max_length=self.max_length)
        if _has_control_or_space(text):
            raise self.make_error("spaces")
        if self.image_data and _IMAGE_DATA_URL.fullmatch(text):
            return text
        scheme = _URL_SCHEME.match(text)
        if scheme is not None and scheme.group(1).lower() not in _SAFE_URL_SCHEMES:
            raise self.make_error("unsafe")
        if scheme is not None and not text[scheme.end():].startswith("//"):
            raise self.make_error("unsafe")  # "http:evil" is a relative link in some parsers, a host in others
        return text


class OutputSchema(Schema):
    """Base of response schemas: dumps from snake_case rows to camelCase keys."""


class InputSchema(Schema):
    """Base of request schemas."""


def load_json(schema: Schema, *, partial: bool = False) -> dict:
    """Validate the request's JSON object body with the schema; 400 on anything else.

    JSON bodies are capped at JSON_MAX_BYTES (413): only image uploads need the larger
    request limit. Nesting deeper than Python's recursion limit is a 400, not a crash.
    """
    app_limit = current_app.config.get("MAX_CONTENT_LENGTH")
    limit = min(JSON_MAX_BYTES, app_limit) if app_limit else JSON_MAX_BYTES
    request.max_content_length = limit
    too_large = AppError(f"Request body too large (limit {limit} bytes)", status=413)
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise too_large from None
    if request.content_length is None and len(raw) >= limit:  # a chunked body, cut at the limit
        raise too_large
    try:
        data = request.get_json(force=True, silent=True)  # parses the cached bytes
    except RecursionError:
        raise Invalid("The JSON body is nested too deeply") from None
    if data is None:
        if raw.strip():
            raise Invalid("Malformed JSON body")
        data = {}
    if not isinstance(data, dict):
        raise Invalid("The request body must be a JSON object")
    return schema.load(data, partial=partial)


def load_query(schema: Schema) -> dict:
    """Validate the query string with the schema."""
    return schema.load(request.args.to_dict())


class InvalidPathId(BadRequest):
    cms_message = "Invalid id in the URL: it must be a positive whole number"


class IdConverter(BaseConverter):
    """`<id:car_id>` in a route: any segment; a non-numeric one is a 400, not a 404."""

    regex = r"[^/]+"
    part_isolating = True  # werkzeug guesses False from the "/" in the regex; then "/cars/5/" would 404

    def to_python(self, value: str) -> int:
        number = parse_id(value)
        if number is None or not _DIGITS.fullmatch(value):
            raise InvalidPathId()
        return number

    def to_url(self, value) -> str:
        return str(value)


def money(value) -> int | float | None:
    """A numeric column as a JSON number (whole amounts as integers)."""
    return Money()._serialize(value, None, None)


class StrictBoolean(fields.Field):
    """JSON true or false only (no "yes", 1 or "true")."""

    default_error_messages = {"invalid": "Must be true or false."}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else bool(value)
