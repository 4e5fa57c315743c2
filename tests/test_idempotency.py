"""Idempotency-Key on creating POSTs: a retry gets the first answer byte for byte and writes nothing."""

from __future__ import annotations

import io
import threading
import uuid

import psycopg
import pytest
from PIL import Image
from support.app import error_of

from cms.repositories import idempotency as idempotency_repo


@pytest.fixture
def seller(factory):
    return factory.user("seller", name="Sam Seller")


@pytest.fixture
def buyer(factory):
    return factory.user("user", name="Bella Buyer")


@pytest.fixture
def car(factory, seller):
    return factory.car(seller, title="Aura GT-S")


def image_bytes(color=(200, 40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (200, 150), color).save(buffer, "JPEG")
    return buffer.getvalue()


def count(sql, table: str) -> int:
    return sql.execute(f"SELECT count(*) AS n FROM {table}").fetchone()["n"]  # noqa: S608 - fixed names


def inquiry(client, headers, car, key, message="Still available?"):
    return client.post("/api/inquiries", json={"carId": car["id"], "message": message, "type": "general",
                                               "requestedDate": ""},
                       headers={**headers, "Idempotency-Key": key})


def test_a_retry_with_the_same_key_gets_the_first_answer_byte_for_byte_and_writes_nothing(
        client, factory, buyer, car, sql, outbox_messages):
    headers, key = factory.headers(buyer), str(uuid.uuid4())
    first = inquiry(client, headers, car, key)
    again = inquiry(client, headers, car, key)
    assert first.status_code == again.status_code == 200
    assert again.get_data() == first.get_data()
    assert again.headers["Content-Type"] == first.headers["Content-Type"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count(sql, "inquiries") == 1
    assert count(sql, "notification_outbox") == 1  # the seller is told once


def test_the_same_key_with_another_body_is_a_409_and_writes_nothing(client, factory, buyer, car, sql):
    headers, key = factory.headers(buyer), "key-1"
    assert inquiry(client, headers, car, key).status_code == 200
    other = inquiry(client, headers, car, key, message="Another question")
    assert other.status_code == 409
    assert "Idempotency-Key" in error_of(other)
    assert count(sql, "inquiries") == 1


def test_keys_are_scoped_per_user(client, factory, buyer, car, sql):
    other_buyer = factory.user("user")
    first = inquiry(client, factory.headers(buyer), car, "shared")
    second = inquiry(client, factory.headers(other_buyer), car, "shared")
    assert first.status_code == second.status_code == 200
    assert first.get_json()["id"] != second.get_json()["id"]
    assert count(sql, "inquiries") == 2


def test_without_a_key_every_post_writes(client, factory, buyer, car, sql):
    headers = factory.headers(buyer)
    for _ in range(2):
        client.post("/api/inquiries", json={"carId": car["id"], "message": "Hi", "type": "general",
                                            "requestedDate": ""}, headers=headers)
    assert count(sql, "inquiries") == 2


def test_an_anonymous_registration_retried_registers_once_and_replays_its_answer(client, sql):
    body = {"name": "Nora", "email": "nora@example.com", "password": "Secret-123", "role": "user"}
    first = client.post("/api/auth/register", json=body, headers={"Idempotency-Key": "reg-1"})
    again = client.post("/api/auth/register", json=body, headers={"Idempotency-Key": "reg-1"})
    assert first.status_code == again.status_code == 200
    assert again.get_data() == first.get_data()
    assert count(sql, "users") == 1
    stranger = client.post("/api/auth/register", json={**body, "email": "eve@example.com"},
                           headers={"Idempotency-Key": "reg-1"})
    assert stranger.status_code == 409  # another anonymous request never sees nora's answer
    assert "token" not in stranger.get_json()


def test_a_refusal_is_not_stored_and_keeps_what_the_service_keeps_whatever_the_answer(client, factory, sql):
    factory.user("user", email="taken@example.com")
    body = {"name": "Nora", "email": "taken@example.com", "password": "Secret-123", "role": "user"}
    for _ in range(2):
        refused = client.post("/api/auth/register", json=body, headers={"Idempotency-Key": "reg-2"})
        assert refused.status_code == 400
        assert "Idempotent-Replayed" not in refused.headers
    assert count(sql, "idempotency_keys") == 0
    # the security log counts both refused attempts, as it does without a key (registration throttle)
    assert sql.execute("SELECT count(*) AS n FROM auth_events WHERE event_type = 'register_failure'"
                       ).fetchone()["n"] == 2


def test_a_failure_after_the_write_leaves_neither_the_write_nor_the_key(client, factory, buyer, car, sql,
                                                                         monkeypatch):
    def lost(*args, **kwargs):
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(idempotency_repo, "record_key", lost)
    answer = inquiry(client, factory.headers(buyer), car, "key-lost")
    assert answer.status_code == 503
    assert count(sql, "inquiries") == 0
    assert count(sql, "idempotency_keys") == 0


def test_a_commit_not_confirmed_by_the_synchronous_standby_is_a_503_and_its_retry_finds_out(
        client, factory, buyer, car, sql, monkeypatch):
    record_key = idempotency_repo.record_key

    def cut_short(conn, **kwargs):  # what PostgreSQL says when a commit's wait for the standby is cancelled
        record_key(conn, **kwargs)
        conn.execute("DO $$ BEGIN RAISE WARNING 'canceling wait for synchronous replication due to user request'; "
                     "END $$")

    monkeypatch.setattr(idempotency_repo, "record_key", cut_short)
    headers = factory.headers(buyer)
    assert inquiry(client, headers, car, "key-unconfirmed").status_code == 503
    monkeypatch.setattr(idempotency_repo, "record_key", record_key)
    again = inquiry(client, headers, car, "key-unconfirmed")  # here the write survived: its answer comes back
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (200, "true")
    assert count(sql, "inquiries") == 1


def test_an_expired_key_runs_again(client, factory, buyer, car, sql):
    headers = factory.headers(buyer)
    first = inquiry(client, headers, car, "old-key")
    sql.execute("UPDATE idempotency_keys SET created_at = created_at - interval '25 hours'")  # TTL: 24 h
    again = inquiry(client, headers, car, "old-key")
    assert again.status_code == 200
    assert again.get_json()["id"] != first.get_json()["id"]
    assert count(sql, "inquiries") == 2
    assert count(sql, "idempotency_keys") == 1  # the expired twin was replaced


def test_a_retried_image_upload_stores_its_images_once(client, factory, seller, car, sql):
    # the test client, like a browser, draws a new multipart boundary for each attempt
    headers = {**factory.headers(seller), "Idempotency-Key": "upload-1"}
    answers = [client.post(f"/api/cars/{car['id']}/images", headers=headers, content_type="multipart/form-data",
                           data={"images": [(io.BytesIO(image_bytes()), "front.jpg")]}) for _ in range(2)]
    assert [answer.status_code for answer in answers] == [201, 201]
    assert answers[1].get_data() == answers[0].get_data()
    assert count(sql, "car_images") == 1
    other = client.post(f"/api/cars/{car['id']}/images", headers=headers, content_type="multipart/form-data",
                        data={"images": [(io.BytesIO(image_bytes(color=(1, 2, 3))), "front.jpg")]})
    assert other.status_code == 409


def test_a_retried_favorite_toggle_does_not_undo_itself(client, factory, buyer, car, sql):
    headers = {**factory.headers(buyer), "Idempotency-Key": "fav-1"}
    first = client.post("/api/favorites/toggle", json={"carId": car["id"]}, headers=headers)
    again = client.post("/api/favorites/toggle", json={"carId": car["id"]}, headers=headers)
    assert first.get_json()["status"] == again.get_json()["status"] == "added"
    assert count(sql, "favorites") == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "naïve", "with space"])
def test_a_malformed_key_is_a_400(client, factory, buyer, car, sql, key):
    answer = inquiry(client, factory.headers(buyer), car, key)
    assert answer.status_code == 400
    assert "Idempotency-Key" in error_of(answer)
    assert count(sql, "inquiries") == 0


def test_concurrent_requests_with_one_key_write_once_and_answer_alike(app, factory, buyer, car, sql):
    headers, answers = factory.headers(buyer), []
    barrier = threading.Barrier(4)

    def send():
        client = app.test_client()
        barrier.wait()
        answers.append(inquiry(client, headers, car, "race"))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {answer.status_code for answer in answers} == {200}
    assert len({answer.get_data() for answer in answers}) == 1
    assert count(sql, "inquiries") == 1


def test_every_creating_post_documents_the_key(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    creating = {path for path, operations in paths.items() for method, operation in operations.items()
                if method == "post"
                and any(p.get("name") == "Idempotency-Key" for p in operation.get("parameters", []))}
    assert creating == {
        "/api/auth/register", "/api/cars", "/api/cars/{car_id}/images", "/api/inquiries", "/api/reviews",
        "/api/favorites/toggle", "/api/seller/orders", "/api/payments/checkout", "/api/payments/confirm-payment",
        "/api/admin/users", "/api/admin/sellers",
    }


def test_a_browser_on_another_origin_may_send_the_key_and_read_the_replay_mark(client):
    preflight = client.options("/api/inquiries", headers={
        "Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key"})
    assert "idempotency-key" in preflight.headers["Access-Control-Allow-Headers"].lower()
    answer = client.get("/ping", headers={"Origin": "http://localhost:5173"})
    assert "Idempotent-Replayed" in answer.headers["Access-Control-Expose-Headers"]
