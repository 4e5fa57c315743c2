"""Field types shared by every schema: whole numbers (ids among them), money, UTC timestamps, trimmed text.

Marshmallow only: request parsing (cms.api.http) and presentation use these, they use nothing of ours.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal, InvalidOperation

from marshmallow import Schema, ValidationError, fields, validate

MAX_INT4 = 2_147_483_647
MAX_PRICE = Decimal("99999999.99")  # numeric(10, 2)
_WHOLE_NUMBER = re.compile(r"^\s*-?\d{1,10}\s*$")
# Ids: ASCII digits and nothing else, in a URL as in a body: `\d` and str.isdigit() also take "１"
# or "٣", and int() takes " 1", "+1" and "1_0", which would make one id reachable under many
# spellings. At most 10 digits (int4's maximum has 10): int() refuses strings of over 4,300.
ASCII_DIGITS = re.compile(r"[0-9]{1,10}", re.ASCII)
ID_MESSAGE = "Must be a positive whole-number id."


def parse_id(value) -> int | None:
    """An id: a JSON integer, or a string of ASCII digits, from 1 to int4's maximum. None when invalid."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and ASCII_DIGITS.fullmatch(value):
        number = int(value)
    else:
        return None
    return number if 1 <= number <= MAX_INT4 else None


class WholeNumber(fields.Field):
    """The one integer field of the API: a JSON integer within PostgreSQL's int4 range.

    `strings`: a string of digits is accepted too (forms, query strings, ids sent as "3");
    `ascii_digits`: such a string is ASCII digits and nothing else, no sign or blanks (ids);
    `floats`: an integral JSON number such as 2024.0 too. 2024.5, true and "abc" are always refused.
    `minimum`: the lowest value (ids: 1). `blank_is_none`: "" means no value.
    """

    default_error_messages = {"invalid": "Must be a whole number.", "range": "Number out of range."}

    def __init__(self, *, strings: bool = True, ascii_digits: bool = False, floats: bool = True,
                 minimum: int = -MAX_INT4, blank_is_none: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.strings, self.ascii_digits, self.floats = strings, ascii_digits, floats
        self.minimum, self.blank_is_none = minimum, blank_is_none

    def _from_text(self, value: str) -> int | None:
        if self.ascii_digits:
            return int(value) if ASCII_DIGITS.fullmatch(value) else None
        return int(value) if _WHOLE_NUMBER.match(value) else None

    def _deserialize(self, value, attr, data, **kwargs):
        if self.blank_is_none and isinstance(value, str) and not value.strip():
            return None
        number = None
        if isinstance(value, bool):
            pass
        elif isinstance(value, int):
            number = value
        elif isinstance(value, float) and self.floats and value.is_integer():
            number = int(value)
        elif isinstance(value, str) and self.strings:
            number = self._from_text(value)
        if number is None:
            raise self.make_error("invalid")
        if not self.minimum <= number <= MAX_INT4:
            raise self.make_error("range")
        return number

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else int(value)


def Id(**kwargs) -> WholeNumber:  # noqa: N802 - used like a field class
    """A database id: a JSON integer or a string of ASCII digits only (the frontend sends both), 1 or more."""
    field = WholeNumber(ascii_digits=True, floats=False, minimum=1,
                        error_messages={"invalid": ID_MESSAGE, "range": ID_MESSAGE}, **kwargs)
    field.is_id = True
    return field


def StrictInteger(**kwargs) -> WholeNumber:  # noqa: N802 - used like a field class
    """A JSON integer only: refuses 4.7 and "4" alike (a rating)."""
    return WholeNumber(strings=False, floats=False, error_messages={"invalid": "Not a valid integer."}, **kwargs)


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
        return money(value)


def utc_text(value) -> str | None:
    """The one UTC formatter: a `timestamp` (stored in UTC; naive means UTC) as ISO-8601 with
    milliseconds and a Z, like the old server printed; a date as YYYY-MM-DD.

    Also takes the text PostgreSQL prints for a `timestamp` in the ISO DateStyle
    ('2026-03-04 05:06:07.891234', the fraction without its trailing zeros), which the car
    list reads instead of datetimes (cms.repositories.cars.list_cars).
    """
    if value is None:
        return None
    if value.__class__ is str:
        if 19 <= len(value) <= 26 and value[4] == "-" and value[10] == " ":
            return f"{value[:10]}T{value[11:19]}.{value[20:23]:0<3}Z"
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(timespec="milliseconds") + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


class UtcDateTime(fields.Field):
    """A `timestamp` column as utc_text prints it."""

    def _serialize(self, value, attr, obj, **kwargs):
        return utc_text(value)


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


def normalized_email(text: str) -> str:
    """An email as the service compares and stores it: NFKC, then trimmed. NFKC writes
    compatibility characters as the letters they stand for ("ｌ" FULLWIDTH L is "l", "ﬁ" is "fi"),
    so an address typed with them is the account of the plain one. Case is compared by the queries
    (lower(), which for ASCII is case folding)."""
    return unicodedata.normalize("NFKC", text).strip()


class Email(fields.String):
    """An email for a new account: normalized_email, then ASCII only, at most 255 characters, a
    valid address.

    A look-alike that NFKC keeps (Cyrillic "к" or "а" beside Latin "k" or "a", in the name or the
    domain) would be a second account that reads like the first; refusing non-ASCII is the one rule
    that stops all of them without a table of confusable letters. International domains are
    written in their xn-- form. Addresses stored before this rule keep logging in (LoginEmail).
    """

    default_error_messages = {
        "ascii": "Use an email address of ASCII characters only (an international domain in its xn-- form).",
        "too_long": "Must be at most 255 characters.",
    }

    def __init__(self, **kwargs):
        super().__init__(validate=validate.Email(error="Not a valid email address."), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        # Normalized before the length is checked: NFKC may lengthen a text ("ﬁ" is "fi").
        text = normalized_email(super()._deserialize(value, attr, data, **kwargs))
        if not text.isascii():
            raise self.make_error("ascii")
        if len(text) > 255:
            raise self.make_error("too_long")
        return text


class LoginEmail(fields.String):
    """An email typed to log in or to search by: normalized_email, never refused for its letters
    (an adopted database may hold any address)."""

    def __init__(self, **kwargs):
        super().__init__(validate=validate.Length(max=255), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        return normalized_email(super()._deserialize(value, attr, data, **kwargs))


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


def money(value) -> int | float | None:
    """A numeric column as a JSON number (whole amounts as integers): what Money dumps."""
    if value is None:
        return None
    number = float(value)
    return int(number) if number.is_integer() else number


class NonNullString(fields.String):
    """A string that is dumped as "" instead of null (the browse page lower-cases it)."""

    def _serialize(self, value, attr, obj, **kwargs):
        return "" if value is None else super()._serialize(value, attr, obj, **kwargs)


class StrictBoolean(fields.Field):
    """JSON true or false only (no "yes", 1 or "true")."""

    default_error_messages = {"invalid": "Must be true or false."}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else bool(value)
