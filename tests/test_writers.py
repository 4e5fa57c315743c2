"""cms.schemas.writers: the JSON writers compiled from output schemas (no database).

The writers of the real car schemas are held byte for byte next to the schemas' dumps in
tests/test_car_list_dump.py; these tests pin what makes them safe to derive."""

from __future__ import annotations

import json

import pytest
from marshmallow import fields

from cms.schemas.cars import CarListItemSchema, CarSchema
from cms.schemas.fields import OutputSchema
from cms.schemas.writers import compile_writer


def test_a_field_added_to_the_schema_is_written_without_touching_a_writer():
    class WithMileage(CarSchema):
        mileage_km = fields.Integer(data_key="mileageKm", allow_none=True)

    car = {"id": 1, "title": "T", "price": 100, "description": None, "seller_id": 2, "status": "available",
           "brand": None, "model": "M", "year": 2020, "fuel_type": None, "image": None,
           "created_at": "2026-01-02 03:04:05.5", "updated_at": "2026-01-02 03:04:05", "mileage_km": 12000}
    written = compile_writer(WithMileage)(car)
    assert written == json.dumps(WithMileage().dump(car), separators=(",", ":"))
    assert json.loads(written)["mileageKm"] == 12000


def test_a_field_type_without_a_writer_refuses_to_compile():
    class Odd(OutputSchema):
        id = fields.Integer()
        tags = fields.List(fields.String())

    with pytest.raises(TypeError, match="no JSON writer for List"):
        compile_writer(Odd)


def test_a_row_writer_reads_the_nested_object_from_prefixed_columns_and_writes_null_without_its_id():
    class Item(CarListItemSchema):
        pass

    names = ["id", "title", "price", "description", "seller_id", "status", "brand", "model", "year", "fuel_type",
             "image", "created_at", "updated_at", "original_price", "discount_label", "primary_image_id",
             "primary_image_car_id", "primary_image_image_url", "primary_image_is_primary",
             "primary_image_display_order", "primary_image_created_at", "primary_image_updated_at"]
    base = (7, "Ünïcode “car”", 1999.5, "d", 3, "available", "B", None, None, "Electric", None,
            "2026-01-02 03:04:05", "2026-01-02 03:04:05", 2500, "Spring")
    with_image = base + (9, 7, "http://x/9", True, 0, "2026-01-02 03:04:05", "2026-01-02 03:04:05")
    without = base[:13] + (None, None) + (None,) * 7
    columns = {name: n for n, name in enumerate(names)}
    written = list(compile_writer(Item, row_writer=True)([with_image, without], columns))
    dumped = Item(many=True).dump([
        {**dict(zip(names[:15], base, strict=True)), "primary_image": {"id": 9, "car_id": 7, "image_url": "http://x/9",
                                                         "is_primary": True, "display_order": 0,
                                                         "created_at": "2026-01-02 03:04:05",
                                                         "updated_at": "2026-01-02 03:04:05"}},
        {**dict(zip(names[:13], base[:13], strict=True)), "original_price": None, "discount_label": None,
         "primary_image": None},
    ])
    assert written == [json.dumps(car, separators=(",", ":")) for car in dumped]
