"""Text that is valid JSON but not valid UTF-8 (lone surrogates) is a 400 everywhere."""

import pytest


@pytest.mark.parametrize("path, body", [
    ("/api/auth/login", '{"email": "\\ud800@x.com", "password": "x"}'),
    ("/api/auth/register", '{"name": "\\udfff", "email": "a@b.co", "password": "secret12"}'),
])
def test_lone_surrogates_are_refused_with_400(client, path, body):
    response = client.post(path, data=body, content_type="application/json")
    assert response.status_code == 400
    assert "error" in response.get_json()


def test_lone_surrogates_in_a_car_title_are_refused(client, factory, sql):
    seller = factory.user("seller")
    response = client.post("/api/cars", headers=factory.headers(seller), content_type="application/json",
                           data='{"title": "Bad \\ud83d title", "price": 100}')
    assert response.status_code == 400
    assert sql.execute("SELECT count(*) AS n FROM cars").fetchone()["n"] == 0
