"""The OpenAPI 3 document: every route of the contract and of the app, built from the schemas."""

from __future__ import annotations

import re

import pytest
import schemathesis
from flask import Flask
from schemathesis.core.result import Err

from cms.api import openapi_document as openapi
from cms.api.openapi_document import (
    OPERATIONS,
    PUBLIC,
    SIGNED_IN,
    MissingOperation,
    app_routes,
    build_document,
    openapi_path,
)

# Every method + path the legacy frontend calls (../shared/api-contract.md), ids written as {}.
CONTRACT_ROUTES = {
    ("GET", "/ping"),
    ("POST", "/api/auth/register"),
    ("POST", "/api/auth/login"),
    ("GET", "/api/cars"),
    ("GET", "/api/cars/{}"),
    ("POST", "/api/cars"),
    ("PUT", "/api/cars/{}"),
    ("DELETE", "/api/cars/{}"),
    ("GET", "/api/cars/{}/images"),
    ("POST", "/api/cars/{}/images"),
    ("PUT", "/api/cars/{}/images/{}"),
    ("DELETE", "/api/cars/{}/images/{}"),
    ("GET", "/api/users/profile"),
    ("PATCH", "/api/users/profile"),
    ("GET", "/api/users"),
    ("GET", "/api/favorites"),
    ("POST", "/api/favorites/toggle"),
    ("GET", "/api/inquiries"),
    ("POST", "/api/inquiries"),
    ("GET", "/api/reviews/car/{}"),
    ("POST", "/api/reviews"),
    ("GET", "/api/seller/inquiries"),
    ("PATCH", "/api/seller/inquiries/{}"),
    ("GET", "/api/seller/orders"),
    ("POST", "/api/seller/orders"),
    ("PATCH", "/api/seller/orders/{}"),
    ("PATCH", "/api/seller/inventory/{}/status"),
    ("GET", "/api/seller/reports"),
    ("GET", "/api/admin/users"),
    ("POST", "/api/admin/users"),
    ("POST", "/api/admin/sellers"),
    ("PATCH", "/api/admin/users/{}"),
    ("GET", "/api/admin/cars"),
    ("PATCH", "/api/admin/cars/{}/approval"),
    ("GET", "/api/admin/actions"),
    ("GET", "/api/admin/reports/sales"),
    ("POST", "/api/payments/checkout"),
    ("POST", "/api/payments/confirm-payment"),
    ("GET", "/api/payments/my-orders"),
}
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def documented_routes(document: dict) -> set[tuple[str, str]]:
    return {
        (method.upper(), re.sub(r"\{[^}]+\}", "{}", path))
        for path, operations in document["paths"].items()
        for method in operations
        if method in HTTP_METHODS
    }


def resolve(document: dict, node: dict) -> dict:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        kind = node["$ref"].split("/")[2]
        node = document["components"][kind][name]
    return node


@pytest.fixture(scope="module")
def document(app):
    return build_document(app)


def test_the_document_covers_every_route_of_the_contract(document):
    missing = CONTRACT_ROUTES - documented_routes(document)
    assert not missing, f"contract routes missing from the OpenAPI document: {sorted(missing)}"


def test_the_document_covers_every_route_of_the_app_and_nothing_else(app, document):
    routes = {(method, re.sub(r"\{[^}]+\}", "{}", openapi_path(rule))) for _, method, rule in app_routes(app)}
    assert routes, "the app has routes"
    assert documented_routes(document) == routes
    assert all(not path.startswith("/static") for _, path in routes)


def test_every_endpoint_of_the_app_has_an_entry_in_the_mapping_and_no_entry_is_stale(app):
    endpoints = {endpoint for endpoint, _, _ in app_routes(app)}
    assert endpoints - set(OPERATIONS) == set(), "add these endpoints to cms.api.openapi_document.OPERATIONS"
    assert set(OPERATIONS) - endpoints == set(), "these OPERATIONS entries name no route of the app"


def test_a_route_missing_from_the_mapping_fails_the_build():
    bare = openapi.routes_app()

    @bare.get("/api/brand-new")
    def brand_new():
        return {}

    with pytest.raises(MissingOperation, match="/api/brand-new"):
        build_document(bare)


def test_the_bare_routes_app_has_the_same_routes_as_the_real_app(app):
    assert app_routes(openapi.routes_app()) == app_routes(app)


def test_the_document_is_valid_enough_for_schemathesis_to_load_every_operation(document):
    loaded = schemathesis.openapi.from_dict(document)
    results = list(loaded.get_all_operations())
    errors = [result.err() for result in results if isinstance(result, Err)]
    assert errors == []
    assert len(results) == len(documented_routes(document))


def test_path_ids_are_integers_and_every_operation_has_an_id_and_responses(document):
    operation_ids = []
    for path, operations in document["paths"].items():
        names = re.findall(r"\{([^}]+)\}", path)
        for method, operation in operations.items():
            operation_ids.append(operation["operationId"])
            params = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "path"}
            assert set(params) == set(names), (method, path)
            for param in params.values():
                assert param["required"] is True
                assert param["schema"] == {"type": "integer", "minimum": 1, "maximum": 2_147_483_647}
            assert any(code.startswith("2") for code in operation["responses"]), (method, path)
            if names:
                assert {"400", "404"} <= set(operation["responses"]), (method, path)
    assert len(operation_ids) == len(set(operation_ids))


def test_bearer_jwt_security_is_declared_on_protected_operations_only(document):
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    ops = {(m.upper(), p): op for p, item in document["paths"].items() for m, op in item.items()}
    assert ops[("POST", "/api/auth/login")]["security"] == []
    assert ops[("GET", "/api/cars")]["security"] == []
    for key in [("GET", "/api/users/profile"), ("POST", "/api/cars"), ("GET", "/api/admin/users")]:
        assert ops[key]["security"] == [{"bearerAuth": []}]
        assert {"401", "403"} <= set(ops[key]["responses"])
    assert ops[("GET", "/api/admin/users")]["x-roles"] == ["admin"]
    assert ops[("POST", "/api/payments/checkout")]["x-roles"] == ["user"]


def test_errors_are_documented_as_error_and_optional_details(document):
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert error["properties"]["error"] == {"type": "string"}
    assert error["properties"]["details"]["type"] == "object"
    response = resolve(document, document["paths"]["/api/cars"]["post"]["responses"]["400"])
    assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_request_bodies_and_responses_come_from_the_marshmallow_schemas(document):
    create = document["paths"]["/api/cars"]["post"]
    body = resolve(document, create["requestBody"]["content"]["application/json"]["schema"])
    assert set(body["required"]) == {"title", "price"}
    assert body["properties"]["price"]["type"] == "number"
    assert body["properties"]["year"]["type"] == "integer"
    assert body["properties"]["title"]["maxLength"] == 255
    assert "status" not in body["properties"] and "sellerId" not in body["properties"]
    car = resolve(document, create["responses"]["200"]["content"]["application/json"]["schema"])
    assert {"id", "title", "price", "description", "sellerId", "status", "brand", "model", "year", "fuelType",
            "image", "createdAt", "updatedAt"} <= set(car["properties"])

    edit = document["paths"]["/api/cars/{car_id}"]["put"]
    partial = resolve(document, edit["requestBody"]["content"]["application/json"]["schema"])
    assert "required" not in partial

    listing = document["paths"]["/api/cars"]["get"]
    assert listing["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"
    assert "X-Total-Count" in listing["responses"]["200"]["headers"]
    query = {p["name"] for p in listing["parameters"] if p["in"] == "query"}
    assert query == {"q", "brand", "model", "fuelType", "status", "sellerId", "minPrice", "maxPrice", "minYear",
                     "maxYear", "sort", "limit", "offset", "cursor"}

    register = resolve(document, document["paths"]["/api/auth/register"]["post"]["requestBody"]["content"]
                       ["application/json"]["schema"])
    assert register["properties"]["email"]["format"] == "email"
    review = resolve(document, document["paths"]["/api/reviews"]["post"]["requestBody"]["content"]
                     ["application/json"]["schema"])
    assert review["properties"]["rating"]["minimum"] == 1 and review["properties"]["rating"]["maximum"] == 5
    upload = document["paths"]["/api/cars/{car_id}/images"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert "201" in upload["responses"]


def test_auth_in_the_mapping_matches_the_role_decorators_of_the_views(app):
    for endpoint, operation in OPERATIONS.items():
        view = app.view_functions.get(endpoint)
        if view is None:
            continue
        roles = getattr(view, "required_roles", None)
        if roles is not None:
            assert tuple(operation.auth) == tuple(roles), endpoint


def test_every_protected_operation_answers_401_without_a_token_and_public_ones_do_not(app, client):
    for endpoint, method, rule in app_routes(app):
        path = re.sub(r"<[^>]+>", "1", rule)
        response = client.open(path, method=method, json={})
        auth = OPERATIONS[endpoint].auth
        if auth is PUBLIC:
            assert response.status_code != 401, (method, rule)
        else:
            assert auth == SIGNED_IN or isinstance(auth, tuple)
            assert response.status_code == 401, (method, rule, response.status_code)
            assert response.get_json() == {"error": "No token"}


def test_the_document_is_served_at_api_openapi_json(client, app):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200, "register cms.api.openapi.bp in cms/api/blueprints.py"
    served = response.get_json()
    assert served["openapi"].startswith("3.")
    assert served == build_document(app)
    assert ("GET", "/api/openapi.json") in documented_routes(served)


def test_the_document_is_built_once_per_app():
    app = Flask("one")
    app.extensions["cms.openapi"] = {"cached": True}
    assert openapi.document_for(app) == {"cached": True}
