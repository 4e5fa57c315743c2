"""The OpenAPI 3 document of the whole API, built with apispec from the routes' own declarations
(served at /api/openapi.json, browsable at /api/docs: cms/api/openapi.py).

Each route states what it reads (body, query string), answers and who may call it once, next
to its code (cms.api.declare); the same declaration validates the request and dumps the
answer. The document is built from the app's url_map (paths, methods, path parameters) plus
those declarations; a route without one is an error, so a new route cannot be left out
(tests/test_openapi.py builds the document of the real app).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_cls
from flask import Flask
from marshmallow import validate

from cms.api.declare import PUBLIC, SIGNED_IN, Operation
from cms.api.idempotency import DOCUMENTED_HEADER as IDEMPOTENCY_KEY_PARAMETER
from cms.schemas.admin import TimeBound
from cms.schemas.common import ErrorSchema
from cms.schemas.fields import MAX_INT4, MAX_PRICE, Money, StrictBoolean, Text, UtcDateTime, WholeNumber
from cms.schemas.orders import DocumentList

__all__ = ["OPERATIONS", "PUBLIC", "SIGNED_IN", "MissingOperation", "app_routes", "build_document", "document_for",
           "openapi_path", "routes_app"]

OPENAPI_VERSION = "3.0.3"
TITLE = "CMS car marketplace API"
API_VERSION = "1.0.0"
SECURITY_SCHEME = "bearerAuth"
DOCS_BLUEPRINT = "api_docs"  # Swagger UI's page and files (cms/api/openapi.py): not operations
# Headers every answer carries, documented once and referred to from each response.
COMMON_HEADERS = {
    "X-Request-Id": {"description": "The request's id: the caller's X-Request-Id when it is a plain token "
                                    "(1-64 of A-Z a-z 0-9 . _ -), else a new one; also in the request log",
                     "schema": {"type": "string"}},
}

ERROR_STATUSES = {
    400: "Invalid input (wrong type, missing or out-of-range field, malformed JSON, bad path id)",
    401: "No token, or an invalid, expired or deactivated user's token",
    403: "The caller's role or ownership does not allow this",
    404: "Not found",
    409: "Conflict with the current state (sold car, illegal status change, duplicate)",
    413: "Request body too large",
    429: "Too many attempts; retry after the time in Retry-After",
    503: "Database unavailable or maintenance mode; retry later",
}


# --- custom fields → JSON schema ---------------------------------------------------

ALWAYS_SET_TIMESTAMPS = {"created_at", "updated_at", "occurred_at"}


def _custom_field_properties(self, field, ret, **kwargs) -> dict:
    """JSON schema of the project's own field types (cms.schemas.fields and friends)."""
    extra: dict = {}
    if isinstance(field, WholeNumber) and getattr(field, "is_id", False):
        extra = {"minimum": 1, "maximum": MAX_INT4,
                 "description": "An id: a JSON integer (a string of digits is accepted too)"}
    elif isinstance(field, Money):
        extra = {"minimum": 0, "maximum": float(MAX_PRICE), "description": "Money, at most 2 decimals"}
    elif isinstance(field, WholeNumber) and "minimum" not in ret:
        extra = {"minimum": -MAX_INT4, "maximum": MAX_INT4}
    elif isinstance(field, DocumentList):
        extra = {"items": {"type": "object", "properties": {
            "name": {"type": "string"}, "url": {"type": "string"}, "uploadedAt": {"type": "string"}}}}
    elif isinstance(field, UtcDateTime) and field.attribute not in ALWAYS_SET_TIMESTAMPS and \
            field.name not in ALWAYS_SET_TIMESTAMPS:
        extra = {"nullable": True}  # last login, discount bounds, sent at...: null until they happen
    if isinstance(field, Text) and field.max_length is not None and "maxLength" not in ret:
        extra["maxLength"] = field.max_length
    if any(isinstance(validator, validate.Email) for validator in field.validators):
        extra["format"] = "email"
    return extra


def _schema_name(schema) -> str:
    """Component name: the class name without "Schema"; a partial (PUT) variant gets its own name."""
    cls = resolve_schema_cls(schema)
    name = cls.__name__.removesuffix("Schema")
    if getattr(schema, "partial", False):
        name += "Partial"
    return name


def _marshmallow_plugin() -> MarshmallowPlugin:
    plugin = MarshmallowPlugin(schema_name_resolver=_schema_name)
    return plugin


def _register_field_types(plugin: MarshmallowPlugin) -> None:
    plugin.map_to_openapi_type(Money, "number", None)
    plugin.map_to_openapi_type(WholeNumber, "integer", None)
    plugin.map_to_openapi_type(StrictBoolean, "boolean", None)
    plugin.map_to_openapi_type(UtcDateTime, "string", "date-time")
    plugin.map_to_openapi_type(TimeBound, "string", None)
    plugin.map_to_openapi_type(DocumentList, "array", None)
    plugin.converter.add_attribute_function(_custom_field_properties)


# --- the document ----------------------------------------------------------------------

_RULE_ARGUMENT = re.compile(r"<(?:(?P<converter>[^:<>]+):)?(?P<name>[^<>]+)>")
_CONVERTER_SCHEMAS = {
    "id": {"type": "integer", "minimum": 1, "maximum": MAX_INT4},
    "int": {"type": "integer", "minimum": 0},
    "float": {"type": "number"},
}


class MissingOperation(LookupError):
    """A route of the app has no declaration (cms.api.declare)."""


def operation_of(app: Flask, endpoint: str) -> Operation | None:
    """The declaration of an endpoint's view, or None."""
    view = app.view_functions.get(endpoint)
    return getattr(view, "operation", None)


def openapi_path(rule: str) -> str:
    """`/api/cars/<id:car_id>` → `/api/cars/{car_id}`."""
    return _RULE_ARGUMENT.sub(lambda m: "{" + m["name"] + "}", rule)


def _path_parameters(rule: str) -> list[dict]:
    return [
        {
            "in": "path",
            "name": m["name"],
            "required": True,
            "schema": dict(_CONVERTER_SCHEMAS.get(m["converter"] or "", {"type": "string"})),
        }
        for m in _RULE_ARGUMENT.finditer(rule)
    ]


def _content(schema, content_type: str) -> dict:
    return {content_type: {"schema": schema}}


def _security(auth) -> list[dict]:
    return [] if auth is PUBLIC else [{SECURITY_SCHEME: []}]


def _roles_text(auth) -> str:
    if auth is PUBLIC:
        return "Public."
    if auth == SIGNED_IN:
        return "Any signed-in user."
    return "Roles: " + ", ".join(auth) + "."


def _operation(endpoint: str, method: str, rule: str, spec_op: Operation) -> dict:
    path_params = _path_parameters(rule)
    parameters = list(path_params)
    if spec_op.query is not None:
        parameters.append({"in": "query", "schema": spec_op.query})
    if spec_op.idempotent:
        parameters.append(IDEMPOTENCY_KEY_PARAMETER)
    success: dict = {"description": spec_op.summary,
                     "content": _content(spec_op.response, spec_op.response_content_type)}
    success["headers"] = {**_common_headers(), **spec_op.headers}
    responses: dict = {str(spec_op.status): success}
    for status, description in spec_op.other_answers.items():
        responses[str(status)] = {"description": description, "headers": _common_headers()}
    errors = set(spec_op.errors) | {503}
    if path_params or spec_op.query is not None or spec_op.request is not None:
        errors.add(400)
    if path_params:
        errors.add(404)
    if spec_op.request is not None:
        errors |= {400, 413}
    if spec_op.auth is not PUBLIC:
        errors |= {401, 403}
    if spec_op.idempotent:
        errors |= {400, 409}
    for status in sorted(errors):
        responses[str(status)] = {"$ref": f"#/components/responses/Error{status}"}
    operation = {
        "operationId": endpoint.replace(".", "_"),
        "summary": spec_op.summary,
        "description": _roles_text(spec_op.auth),
        "tags": [endpoint.split(".", 1)[0]],
        "security": _security(spec_op.auth),
        "responses": responses,
    }
    if spec_op.auth not in (PUBLIC, SIGNED_IN):
        operation["x-roles"] = list(spec_op.auth)
    if parameters:
        operation["parameters"] = parameters
    if spec_op.request is not None:
        operation["requestBody"] = {"required": True,
                                    "content": _content(spec_op.request, spec_op.request_content_type)}
    return operation


def _common_headers() -> dict:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in COMMON_HEADERS}


def app_routes(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, METHOD, rule) of every route of the app, static files and the docs page excluded."""
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.startswith(DOCS_BLUEPRINT + "."):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((rule.endpoint, method, rule.rule))
    return sorted(routes, key=lambda route: (route[2], route[1]))


def build_document(app: Flask) -> dict:
    """The OpenAPI 3 document of every route of `app`; MissingOperation for an unmapped endpoint.
    Its server is PUBLIC_BASE_URL when the app has one, else the host that served the document."""
    plugin = _marshmallow_plugin()
    settings = app.config.get("CMS_SETTINGS")
    server_url = getattr(settings, "public_base_url", "") or "/"
    spec = APISpec(
        title=TITLE,
        version=API_VERSION,
        openapi_version=OPENAPI_VERSION,
        plugins=[plugin],
        info={"description": "The HTTP API of the car marketplace (see the contract in docs). "
                             "Errors are JSON {error, details?}."},
        servers=[{"url": server_url}],
    )
    _register_field_types(plugin)
    spec.components.security_scheme(
        SECURITY_SCHEME, {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    spec.components.schema("Error", schema=ErrorSchema)
    for name, header in COMMON_HEADERS.items():
        spec.components.header(name, header)
    for status, description in ERROR_STATUSES.items():
        spec.components.response(f"Error{status}", {
            "description": description,
            "headers": _common_headers(),
            "content": {"application/json": {"schema": "Error"}},
        })

    paths: dict[str, dict] = {}
    for endpoint, method, rule in app_routes(app):
        spec_op = operation_of(app, endpoint)
        if spec_op is None:
            raise MissingOperation(f"{method} {rule} ({endpoint}) has no declaration (cms.api.declare)")
        paths.setdefault(rule, {})[method.lower()] = _operation(endpoint, method, rule, spec_op)
    for rule, operations in paths.items():
        spec.path(path=openapi_path(rule), operations=operations)
    return spec.to_dict()


def document_for(app: Flask) -> dict:
    """The document of `app`, built once per app."""
    cached = app.extensions.get("cms.openapi")
    if cached is None:
        cached = app.extensions["cms.openapi"] = build_document(app)
    return cached


def routes_app() -> Flask:
    """A bare app with the service's blueprints (no database): its url_map is the real one."""
    from cms.api.blueprints import register_blueprints
    from cms.api.http import IdConverter

    app = Flask("cms_routes")
    app.url_map.strict_slashes = False
    app.url_map.converters["id"] = IdConverter
    register_blueprints(app)
    return app


class _Operations(Mapping):
    """Every endpoint of the service and its declaration, read from the views (built on first use)."""

    def __init__(self):
        self._operations: dict[str, Operation] | None = None

    def _all(self) -> dict[str, Operation]:
        if self._operations is None:
            app = routes_app()
            declared = ((endpoint, operation_of(app, endpoint)) for endpoint, _, _ in app_routes(app))
            self._operations = {endpoint: operation for endpoint, operation in declared if operation is not None}
        return self._operations

    def __getitem__(self, endpoint: str) -> Operation:
        return self._all()[endpoint]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


# endpoint → Operation, derived from the routes (nothing is declared here).
OPERATIONS: Mapping[str, Operation] = _Operations()
