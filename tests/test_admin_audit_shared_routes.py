"""An admin's writes through the shared seller routes are audited too; a seller's are not."""

import io

from PIL import Image


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (120, 120), "red").save(buffer, "PNG")
    return buffer.getvalue()


def _actions(sql):
    return [(r["action_type"], r["admin_id"], r["target_id"])
            for r in sql.execute("SELECT * FROM admin_actions ORDER BY id").fetchall()]


def test_admin_writes_through_seller_routes_land_in_the_audit_log(client, factory, sql):
    admin = factory.user("admin")
    seller = factory.user("seller")
    buyer = factory.user("user")
    car = factory.car(seller)
    headers = factory.headers(admin)

    order = client.post("/api/seller/orders", headers=headers,
                        json={"carId": car["id"], "buyerId": buyer["id"], "finalPrice": 100}).get_json()
    assert client.patch(f"/api/seller/orders/{order['id']}", headers=headers,
                        json={"status": "cancelled"}).status_code == 200
    assert client.patch(f"/api/seller/inventory/{car['id']}/status", headers=headers,
                        json={"status": "reserved"}).status_code == 200
    inquiry = factory.row("inquiries", car_id=car["id"], user_id=buyer["id"], seller_id=seller["id"], message="Hi")
    assert client.patch(f"/api/seller/inquiries/{inquiry['id']}", headers=headers,
                        json={"status": "closed"}).status_code == 200
    upload = client.post(f"/api/cars/{car['id']}/images", headers=headers,
                         data={"images": (io.BytesIO(_png()), "a.png")}, content_type="multipart/form-data")
    assert upload.status_code == 201
    image_id = upload.get_json()["images"][0]["id"]
    assert client.delete(f"/api/cars/{car['id']}/images/{image_id}", headers=headers).status_code == 200

    assert _actions(sql) == [
        ("create_order", admin["id"], order["id"]),
        ("update_order", admin["id"], order["id"]),
        ("update_inventory_status", admin["id"], car["id"]),
        ("update_inquiry", admin["id"], inquiry["id"]),
        ("upload_car_images", admin["id"], car["id"]),
        ("delete_car_image", admin["id"], car["id"]),
    ]


def test_a_sellers_own_writes_are_not_admin_actions(client, factory, sql):
    seller = factory.user("seller")
    car = factory.car(seller)
    assert client.patch(f"/api/seller/inventory/{car['id']}/status", headers=factory.headers(seller),
                        json={"status": "reserved"}).status_code == 200
    assert _actions(sql) == []
