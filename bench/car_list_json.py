"""Is the car list writer worth keeping? (Issue 12: only if it beats orjson.)

Times five ways of turning the rows of a long car list (as cms.services.cars hands them over:
tuples, timestamps as PostgreSQL's text, prices as Decimal) into the JSON body, on the same
synthetic rows, and checks that they all give the same JSON:

- writer:        cms.schemas.cars.car_list_json, the writer GET /api/cars uses (compiled from
                 CarListItemSchema by cms.schemas.writers; before, it was written by hand);
- schema+orjson: CarListItemSchema compiled into plain functions (below), the dicts encoded by
                 orjson and non-ASCII escaped as jsonify does: byte for byte the same body
                 without a second description of a car;
- dicts+orjson:  one hand-coded dict per car, encoded by orjson (the best orjson can do; its
                 bytes differ: orjson writes non-ASCII as UTF-8, jsonify escapes it);
- json:          the same dicts, encoded by the standard library as Flask's jsonify does;
- marshmallow:   CarListItemSchema(many=True).dump of nested dicts + json.dumps (1/10 of the rows).

Run: .venv/bin/pip install orjson==3.13.0 (measured only, not a dependency of the service), then
     .venv/bin/python bench/car_list_json.py [--cars 10000] [--repeat 9]
Prints the best CPU time of --repeat runs per way (the ways take turns), in ms and µs per car.

--writers-only times the service's own writers only (no orjson needed): the list writer and the
detail writer (cms.schemas.cars.car_detail_json, a car with three images), so that two checkouts
can be compared: PYTHONPATH=<checkout> .venv/bin/python bench/car_list_json.py --writers-only
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal

from marshmallow import fields

from cms.schemas.cars import LIST_COLUMNS, CarListItemSchema, NonNullString, car_detail_json, car_list_json
from cms.schemas.fields import Money, OutputSchema, UtcDateTime, money, utc_text

try:
    import orjson  # not a dependency of the service: measured only
except ImportError:
    orjson = None


def synthetic_rows(count: int) -> list[tuple]:
    """Rows shaped like the list's: half with a primary image, some with a discount, some NULLs."""
    start = dt.datetime(2026, 1, 1, 8, 0, 0, 123456)
    rows = []
    for n in range(count):
        stamp = str(start + dt.timedelta(minutes=n))
        has_image = n % 2 == 0
        discounted = n % 3 == 0
        price = Decimal(15000 + (n % 5000) * 7) + Decimal("0.50") * (n % 2)
        values = {
            "id": n + 1, "title": f"Car number {n} — “special” édition", "price": price * Decimal("0.9")
            if discounted else price, "description": None if n % 7 == 0 else "A fine car. " * 8,
            "seller_id": 2 + n % 50, "status": "available", "brand": "Brand", "model": None if n % 11 == 0 else "M",
            "year": 2000 + n % 25, "fuel_type": "Electric", "image": "/images/car1.png", "created_at": stamp,
            "updated_at": stamp, "original_price": price if discounted else None,
            "discount_label": "Spring sale" if discounted else None, "rejection_reason": None,
            "primary_image_id": n + 1 if has_image else None, "primary_image_car_id": n + 1 if has_image else None,
            "primary_image_image_url": f"http://localhost:4000/api/cars/{n + 1}/images/{n + 1}/file"
            if has_image else None,
            "primary_image_is_primary": True if has_image else None,
            "primary_image_display_order": 0 if has_image else None,
            "primary_image_created_at": stamp if has_image else None,
            "primary_image_updated_at": stamp if has_image else None,
        }
        rows.append(tuple(values[name] for name in LIST_COLUMNS))
    return rows


COLUMNS = {name: position for position, name in enumerate(LIST_COLUMNS)}


def as_dicts(rows: list[tuple]) -> list[dict]:
    """The same cars as dicts ready for an encoder (what the writer prints, key for key)."""
    c = COLUMNS
    cars = []
    for row in rows:
        car = {
            "id": row[c["id"]], "title": row[c["title"]] or "", "price": money(row[c["price"]]),
            "description": row[c["description"]] or "", "sellerId": row[c["seller_id"]],
            "status": row[c["status"]], "brand": row[c["brand"]] or "", "model": row[c["model"]],
            "year": row[c["year"]], "fuelType": row[c["fuel_type"]], "image": row[c["image"]],
            "createdAt": utc_text(row[c["created_at"]]), "updatedAt": utc_text(row[c["updated_at"]]),
        }
        if row[c["original_price"]] is not None:
            car["originalPrice"] = money(row[c["original_price"]])
            car["discountLabel"] = row[c["discount_label"]]
        image = None
        if row[c["primary_image_id"]] is not None:
            image = {
                "id": row[c["primary_image_id"]], "carId": row[c["primary_image_car_id"]],
                "imageUrl": row[c["primary_image_image_url"]], "isPrimary": row[c["primary_image_is_primary"]],
                "displayOrder": row[c["primary_image_display_order"]],
                "createdAt": utc_text(row[c["primary_image_created_at"]]),
                "updatedAt": utc_text(row[c["primary_image_updated_at"]]),
            }
        car["primaryImage"] = image
        cars.append(car)
    return cars


def nested(rows: list[tuple]) -> list[dict]:
    """The rows as the schema dumps them (snake_case, primary_image nested)."""
    cars = []
    for row in rows:
        car = {name: row[COLUMNS[name]] for name in LIST_COLUMNS if not name.startswith("primary_image_")}
        image = {name.removeprefix("primary_image_"): row[COLUMNS[name]] for name in LIST_COLUMNS
                 if name.startswith("primary_image_")}
        car["primary_image"] = image if image["id"] is not None else None
        cars.append(car)
    return cars


# --- the list schema compiled into plain functions (tried in issue 12, not adopted) ------------
# For each field of CarListItemSchema: its key, its column and a function doing what the
# field's _serialize does; orjson encodes the dicts and non-ASCII is then escaped as jsonify does.

_NON_ASCII = re.compile("[\x7f-\U0010ffff]")


def _as_is(value):
    return value


def _integer(value):
    return None if value is None else int(value)


def _boolean(value):
    return None if value is None else bool(value)


def _non_null_text(value):
    return "" if value is None else value


def _plain(field: fields.Field):
    """A function that dumps a value as the field does (for the field types of the list schemas)."""
    for kind, function in ((NonNullString, _non_null_text), (fields.String, _as_is), (fields.Integer, _integer),
                           (fields.Boolean, _boolean), (Money, money), (UtcDateTime, utc_text)):
        if isinstance(field, kind):
            return function
    raise TypeError(f"no plain dump for {type(field).__name__}: add one (or keep the field out of list schemas)")


def _plan(schema: OutputSchema, columns: dict[str, int], prefix: str = "") -> list:
    """(key, column position, function or nested plan) for each field of the schema, in dump order."""
    plan = []
    for name, field in schema.dump_fields.items():
        key = field.data_key or name
        if isinstance(field, fields.Nested):
            nested_prefix = f"{prefix}{name}_"
            plan.append((key, columns[f"{nested_prefix}id"], _plan(field.schema, columns, nested_prefix)))
        else:
            plan.append((key, columns[prefix + name], _plain(field)))
    return plan


def _dump_rows(rows: Iterable[Sequence], plan: list, drop_empty_discount) -> Iterator[dict]:
    for row in rows:
        car = {}
        for key, position, dump in plan:
            if isinstance(dump, list):  # a nested object: null when its id is
                car[key] = None if row[position] is None else {
                    nested_key: nested_dump(row[nested_position])
                    for nested_key, nested_position, nested_dump in dump
                }
            else:
                car[key] = dump(row[position])
        yield drop_empty_discount(car)


def _ascii(body: bytes) -> bytes:
    """JSON with every character beyond ASCII written as \\uXXXX (surrogate pairs beyond the BMP),
    as json.dumps(ensure_ascii=True) writes it."""
    if body.isascii():
        return body

    def escape(match) -> str:
        code = ord(match.group())
        if code > 0xFFFF:
            code -= 0x10000
            return f"\\u{0xD800 | code >> 10:04x}\\u{0xDC00 | code & 0x3FF:04x}"
        return f"\\u{code:04x}"

    return _NON_ASCII.sub(escape, body.decode()).encode()


def car_list_body(rows, columns) -> bytes:
    """What jsonify(CarListItemSchema(many=True).dump(cars)) sends, from the schema compiled."""
    schema = CarListItemSchema()
    cars = _dump_rows(rows, _plan(schema, columns), schema._drop_empty_discount)
    return _ascii(orjson.dumps(list(cars))) + b"\n"



def writer(rows):
    return b"[" + b",".join(text.encode() for text in car_list_json(rows, COLUMNS)) + b"]\n"


def detail_cars(rows: list[tuple]) -> list[dict]:
    """The same cars as the detail's dicts (cms.services.cars.get_car): three images each, a rating."""
    cars = []
    for car, row in zip(nested(rows), rows, strict=True):
        image = car.pop("primary_image") or {"id": row[COLUMNS["id"]], "car_id": row[COLUMNS["id"]],
                                             "image_url": "/images/car1.png", "is_primary": True,
                                             "display_order": 0, "created_at": car["created_at"],
                                             "updated_at": car["updated_at"]}
        car.update(images=[image, {**image, "is_primary": False, "display_order": 1},
                           {**image, "is_primary": False, "display_order": 2}],
                   average_rating=4.5 if row[COLUMNS["id"]] % 2 else None, review_count=row[COLUMNS["id"]] % 4)
        if car["original_price"] is None:  # as the service hands it: no discount keys without a discount
            del car["original_price"], car["discount_label"]
        cars.append(car)
    return cars


def detail_writer(cars):
    return "\n".join(car_detail_json(car) for car in cars).encode()


def schema_orjson(rows):
    return car_list_body(rows, COLUMNS)


def with_orjson(rows):
    return orjson.dumps(as_dicts(rows)) + b"\n"


def with_json(rows):
    return (json.dumps(as_dicts(rows), separators=(",", ":")) + "\n").encode()


def with_marshmallow(rows):
    return (json.dumps(CarListItemSchema(many=True).dump(nested(rows)), separators=(",", ":")) + "\n").encode()


def cpu_seconds(function, rows) -> tuple[float, bytes]:
    """The CPU time of one run (process time: other work on the machine does not count)."""
    started = time.process_time()
    body = function(rows)
    return time.process_time() - started, body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cars", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--writers-only", action="store_true", help="the service's writers only (no orjson)")
    args = parser.parse_args()
    rows = synthetic_rows(args.cars)
    if args.writers_only:
        writers_only(rows, args.repeat)
        return
    if orjson is None:
        raise SystemExit("orjson is needed for this measurement: .venv/bin/pip install orjson==3.13.0")
    ways = [("writer", writer, rows), ("schema+orjson", schema_orjson, rows), ("dicts+orjson", with_orjson, rows),
            ("json", with_json, rows), ("marshmallow", with_marshmallow, rows[: max(1, args.cars // 10)])]
    reference = json.loads(writer(rows))
    best = {name: float("inf") for name, _, _ in ways}
    bodies = {}
    for _ in range(args.repeat):  # the ways take turns, so that a busy moment hits them alike
        for name, function, subset in ways:
            seconds, bodies[name] = cpu_seconds(function, subset)
            best[name] = min(best[name], seconds)
    print(f"{args.cars} cars, best CPU time of {args.repeat} runs each (orjson {orjson.__version__})")
    print(f"{'way':<14} {'ms':>9} {'µs/car':>8} {'MB':>6}  same JSON as the writer")
    for name, _, subset in ways:
        same = json.loads(bodies[name]) == reference[: len(subset)]
        print(f"{name:<14} {best[name] * 1000:>9.1f} {best[name] * 1e6 / len(subset):>8.2f} "
              f"{len(bodies[name]) / 1e6:>6.2f}  {same}")


def writers_only(rows: list[tuple], repeat: int) -> None:
    cars = detail_cars(rows)
    best = {"list writer": float("inf"), "detail writer": float("inf")}
    for _ in range(repeat):
        for name, function, items in (("list writer", writer, rows), ("detail writer", detail_writer, cars)):
            seconds, _ = cpu_seconds(function, items)
            best[name] = min(best[name], seconds)
    print(f"{len(rows)} cars, best CPU time of {repeat} runs each ({car_list_json.__module__})")
    for name, seconds in best.items():
        print(f"{name:<14} {seconds * 1000:>9.1f} ms {seconds * 1e6 / len(rows):>8.2f} µs/car")


if __name__ == "__main__":
    main()
