"""Favorites: the toggle body and its answer."""

from __future__ import annotations

from marshmallow import EXCLUDE, fields, pre_load

from cms.errors import Invalid
from cms.schemas.fields import Id, InputSchema, OutputSchema

CAR_ID_REQUIRED = "carId is required"


class FavoriteToggleSchema(InputSchema):
    """POST /api/favorites/toggle: {carId} as an integer or a string of digits."""

    class Meta:
        unknown = EXCLUDE

    car_id = Id(data_key="carId", required=True)

    @pre_load
    def _car_id_present(self, data, **kwargs):
        # The contract names this exact message (the frontend shows it as it is).
        value = data.get("carId")
        if value is None or (isinstance(value, str) and not value.strip()):
            raise Invalid(CAR_ID_REQUIRED, {"carId": ["Missing data for required field."]})
        return data

    def handle_error(self, error, data, *, many, **kwargs):
        """A sentence for the person instead of "Invalid input: carId" (details stay)."""
        raise Invalid("carId must be a car id (a positive whole number)", error.messages)


class FavoriteToggleResultSchema(OutputSchema):
    """{status: "added" | "removed", favorites: [car ids]}."""

    status = fields.String()
    favorites = fields.List(fields.Integer())


# GET /api/favorites: the car ids, as a JSON schema (the answer is a plain array).
CAR_IDS = {"type": "array", "items": {"type": "integer", "minimum": 1}}
