"""Answers shared by every area: errors and plain messages."""

from __future__ import annotations

from marshmallow import fields

from cms.schemas.fields import OutputSchema


class ErrorSchema(OutputSchema):
    """Every error answer: a sentence for a person and, for invalid input, the fields at fault."""

    error = fields.String(required=True)
    details = fields.Dict(keys=fields.String())


class MessageSchema(OutputSchema):
    message = fields.String(required=True)
