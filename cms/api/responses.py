"""Answers built the same way by several blueprints: car lists (public and admin)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from flask import current_app

from cms import db
from cms.api.context import public_base_url, runtime_settings
from cms.schemas.cars import car_list_json
from cms.services import cars as cars_service

TOTAL_COUNT_HEADER = "X-Total-Count"
TOTAL_COUNT_CAPPED_HEADER = "X-Total-Count-Capped"
TOTAL_COUNT_HEADERS = {TOTAL_COUNT_HEADER: {"description": "Number of matching cars (all pages)",
                                            "schema": {"type": "integer", "minimum": 0}}}
# Lists without `limit` (every car: 5.5 MB of JSON at 10,000 cars) are built by one thread per
# process, one at a time. CPU is the limit anyway, and the ~20 MB a build needs then comes from
# (and goes back to) that thread's malloc arena, instead of staying in one arena per server thread.
_UNPAGED_LIST_BUILDER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cms-unpaged-list")


def car_list_response(filters: dict, *, admin: bool = False):
    """The filtered, sorted page of cars with primaryImage (and rejectionReason for the admin list),
    X-Total-Count and, when the count stopped at its cap, X-Total-Count-Capped: true.

    The body is exactly what jsonify(CarListItemSchema(many=True).dump(cars)) sends
    (AdminCarListItemSchema for the admin list), written by cms.schemas.cars.car_list_json
    (tests/test_car_list_dump.py).
    """
    provider = current_app.json
    indent = 2 if (provider.compact is None and current_app.debug) or provider.compact is False else None
    conn, runtime, base_url = db.connection(), runtime_settings(), public_base_url()

    def build() -> tuple[bytes, int, bool]:
        # Needs no Flask context (it may run on the builder thread). Rows are read and written out
        # as they come: only the JSON text of the cars is kept, never a dict per car.
        page = cars_service.list_cars(conn, filters, runtime=runtime, base_url=base_url)
        body = b"[" + b",".join(text.encode() for text in car_list_json(page.rows, page.columns, admin=admin)) + b"]\n"
        if indent is not None:  # the indented format of debug mode
            body = f"{provider.dumps(json.loads(body), indent=indent)}\n".encode()
        return body, page.total, page.capped

    body, total, capped = _UNPAGED_LIST_BUILDER.submit(build).result() if filters.get("limit") is None else build()
    response = current_app.response_class(body, mimetype=provider.mimetype)
    response.headers[TOTAL_COUNT_HEADER] = str(total)
    if capped:
        response.headers[TOTAL_COUNT_CAPPED_HEADER] = "true"
    return response
