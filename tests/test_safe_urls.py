"""Every URL a user stores (order documents, car.image, the profile's avatar) is an http(s) or a
relative link; control characters and whitespace are refused anywhere in it (issue 13)."""

from __future__ import annotations

import pytest

from cms.schemas.fields import SafeUrl

UNSAFE = [
    "\u0001javascript:alert(document.domain)",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    " javascript:alert(1)",
    "\u200bjavascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "data:image/svg+xml;base64,PHN2Zy8+",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "http:evil.example",
    "https://example.com/a b.pdf",
    "https://example.com/\x7f",
]
SAFE = ["https://example.com/invoice.pdf", "HTTP://example.com/x?y=1#z", "/images/car1.png", "docs/a.pdf",
        "//cdn.example.com/a.pdf"]


def test_the_field_accepts_http_https_and_relative_links_only():
    field = SafeUrl()
    for url in SAFE:
        assert field.deserialize(url) == url
    for url in UNSAFE:
        with pytest.raises(Exception, match="Must"):
            field.deserialize(url)


@pytest.fixture
def order(factory):
    seller = factory.user("seller")
    buyer = factory.user("user")
    car = factory.car(seller)
    row = factory.row("orders", car_id=car["id"], buyer_id=buyer["id"], seller_id=seller["id"], final_price=1000,
                      status="pending_payment", documents=[])
    return {"row": row, "seller": seller, "buyer": buyer}


@pytest.mark.parametrize("url", UNSAFE)
def test_an_order_document_with_a_script_or_data_url_is_refused(client, factory, sql, order, url):
    response = client.patch(f"/api/seller/orders/{order['row']['id']}", headers=factory.headers(order["seller"]),
                            json={"documents": [{"name": "c", "url": url}]})
    assert response.status_code == 400
    assert "documents" in response.get_json()["details"]
    assert sql.execute("SELECT documents FROM orders").fetchone()["documents"] == []


def test_an_order_document_with_a_https_link_is_stored(client, factory, order):
    response = client.patch(f"/api/seller/orders/{order['row']['id']}", headers=factory.headers(order["seller"]),
                            json={"documents": [{"name": "c", "url": "https://example.com/c.pdf"}]})
    assert response.status_code == 200
    assert response.get_json()["documents"][0]["url"] == "https://example.com/c.pdf"


@pytest.mark.parametrize("url", ["\u0001javascript:alert(1)", "data:text/html,<b>x</b>", "javascript:alert(1)"])
def test_a_car_image_link_must_be_safe(client, factory, sql, url):
    seller = factory.user("seller")
    headers = factory.headers(seller)
    created = client.post("/api/cars", json={"title": "T", "price": 1, "image": url}, headers=headers)
    car = factory.car(seller)
    edited = client.put(f"/api/cars/{car['id']}", json={"image": url}, headers=headers)
    assert (created.status_code, edited.status_code) == (400, 400)
    assert sql.execute("SELECT count(*) AS n FROM cars WHERE image IS NOT NULL").fetchone()["n"] == 0


def test_a_car_image_keeps_relative_and_https_links(client, factory):
    headers = factory.headers(factory.user("seller"))
    for url in ("/images/car1.png", "https://cdn.example.com/car.jpg"):
        response = client.post("/api/cars", json={"title": "T", "price": 1, "image": url}, headers=headers)
        assert response.status_code == 200 and response.get_json()["image"] == url


def test_an_avatar_is_a_link_or_an_inline_raster_picture(client, factory, sql):
    user = factory.user("user")
    headers = factory.headers(user)
    for url in ("javascript:alert(1)", "data:image/svg+xml;base64,PHN2Zy8+", "data:text/html;base64,PGI+"):
        assert client.patch("/api/users/profile", json={"avatar": url}, headers=headers).status_code == 400
    assert sql.execute("SELECT avatar FROM users WHERE id = %s", [user["id"]]).fetchone()["avatar"] is None
    for url in ("https://example.com/me.png", "data:image/png;base64,iVBORw0KGgo="):
        response = client.patch("/api/users/profile", json={"avatar": url}, headers=headers)
        assert response.status_code == 200 and response.get_json()["avatar"] == url
