"""gzip for JSON responses of 1 KB and more, when the client accepts it (issue 5)."""

from __future__ import annotations

import gzip
import json

import pytest


@pytest.fixture
def many_cars(factory):
    seller = factory.user("seller")
    for n in range(10):
        factory.car(seller, title=f"Car {n}", description="A fine car with a long description. " * 5)


def test_a_large_json_body_is_gzipped_when_the_client_accepts_it(client, many_cars):
    # (the whole list, streamed, is compressed as it goes: tests/test_car_paging.py)
    plain = client.get("/api/cars?limit=100")
    compressed = client.get("/api/cars?limit=100", headers={"Accept-Encoding": "gzip, deflate, br"})

    assert compressed.status_code == 200
    assert compressed.headers["Content-Encoding"] == "gzip"
    assert compressed.headers["Content-Type"] == "application/json"
    assert "Accept-Encoding" in compressed.headers["Vary"]
    assert int(compressed.headers["Content-Length"]) == len(compressed.get_data())
    assert len(compressed.get_data()) < len(plain.get_data()) / 3
    assert gzip.decompress(compressed.get_data()) == plain.get_data()
    assert compressed.headers["X-Total-Count"] == "10"


def test_a_large_jsonify_body_is_gzipped_once(client):
    plain = client.get("/api/openapi.json")
    compressed = client.get("/api/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert compressed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(compressed.get_data()) == plain.get_data()
    assert json.loads(plain.get_data())["openapi"].startswith("3.")


@pytest.mark.parametrize("accept", [None, "identity", "gzip;q=0", "br"])
def test_without_gzip_in_accept_encoding_the_body_is_plain(accept, client, many_cars):
    headers = {"Accept-Encoding": accept} if accept else {}

    response = client.get("/api/cars", headers=headers)

    assert "Content-Encoding" not in response.headers
    assert "Accept-Encoding" in response.headers["Vary"]  # caches must keep both versions apart
    assert len(response.get_json()) == 10


def test_a_small_json_body_is_never_compressed(client, factory):
    car = factory.car(factory.user("seller"))

    response = client.get(f"/api/cars/{car['id']}", headers={"Accept-Encoding": "gzip"})

    assert len(response.get_data()) < 1024
    assert "Content-Encoding" not in response.headers
    assert response.get_json()["id"] == car["id"]


def test_image_files_are_sent_as_stored(client, factory):
    car = factory.car(factory.user("seller"))
    image = factory.row("car_images", car_id=car["id"], image_url=None, is_primary=True, display_order=0)
    content = b"\xff\xd8\xff" + bytes(range(256)) * 8
    factory.row("car_image_files", image_id=image["id"], content_type="image/jpeg", content=content,
                byte_size=len(content), width=200, height=150, etag="e1")

    response = client.get(f"/api/cars/{car['id']}/images/{image['id']}/file", headers={"Accept-Encoding": "gzip"})

    assert response.status_code == 200
    assert "Content-Encoding" not in response.headers
    assert response.get_data() == content
