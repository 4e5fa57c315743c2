"""The app starts on a migrated database and answers /ping and a login."""


def test_ping_reports_alive_database(client):
    response = client.get("/ping")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "alive"
    assert body["database"] == "connected"


def test_login_with_a_seeded_style_account_returns_a_token(client, factory):
    user = factory.user("admin", email="boss@example.com")
    response = client.post("/api/auth/login", json={"email": "Boss@Example.com", "password": user["password"]})
    assert response.status_code == 200
    assert response.get_json()["user"]["email"] == "boss@example.com"
    assert response.get_json()["token"].count(".") == 2
