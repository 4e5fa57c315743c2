"""The OpenAPI 3 document of the whole API, built with apispec from the marshmallow schemas.

OPERATIONS maps every endpoint of the app (blueprint.view name) to what it reads
(request body, query string), what it answers and who may call it. The document
is built from the app's url_map (paths, methods, path parameters) plus that
mapping; a route of the app without an entry in OPERATIONS is an error, so a new
route cannot be forgotten here (tests/test_openapi.py builds the document of the
real app).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_cls
from flask import Flask
from marshmallow import Schema, fields, validate

from cms.schemas import admin as admin_schemas
from cms.schemas import admin_ops as ops_schemas
from cms.schemas import car_inputs, favorites, images, inquiries, orders, reviews, users
from cms.schemas.admin import TimeBound
from cms.schemas.car_inputs import WholeNumber
from cms.schemas.cars import CarSchema
from cms.schemas.fields import MAX_INT4, MAX_PRICE, Id, Money, StrictBoolean, StrictInteger, Text, UtcDateTime
from cms.schemas.orders import DocumentList

OPENAPI_VERSION = "3.0.3"
TITLE = "CMS car marketplace API"
API_VERSION = "1.0.0"
SECURITY_SCHEME = "bearerAuth"

PUBLIC = None
SIGNED_IN = "signed-in"  # any active user, whatever the role
SELLER_OR_ADMIN = ("seller", "admin")
ADMIN = ("admin",)

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


# --- documentation-only schemas (answers built by hand in the handlers) ---------------

class ErrorSchema(Schema):
    """Every error answer: a sentence for a person and, for invalid input, the fields at fault."""

    error = fields.String(required=True)
    details = fields.Dict(keys=fields.String())


class MessageSchema(Schema):
    message = fields.String(required=True)


class AuthResultSchema(Schema):
    """POST /api/auth/register and /login: the user (no password hash) and a JWT."""

    user = fields.Nested(users.UserSchema, required=True)
    token = fields.String(required=True, metadata={"description": "JWT (HS256): id, role, email, iat, exp"})


class PoolStatsSchema(Schema):
    size = fields.Integer()
    available = fields.Integer()
    waiting = fields.Integer()
    max = fields.Integer()


class ReplicaStatusSchema(Schema):
    """One read replica of DATABASE_REPLICA_URL, as last checked."""

    name = fields.String(required=True, metadata={"description": "its URL without the password"})
    state = fields.String(required=True, metadata={"enum": ["ok", "down", "lagging", "promoted", "unknown"]})
    lagSeconds = fields.Float(allow_none=True, required=True)
    error = fields.String(allow_none=True, required=True)


class PingSchema(Schema):
    """GET /ping; on 503 status is "degraded", database "disconnected" and error says why."""

    status = fields.String(required=True, metadata={"enum": ["alive", "degraded"]})
    database = fields.String(required=True, metadata={"enum": ["connected", "disconnected"]})
    timestamp = fields.String(required=True, metadata={"format": "date-time"})
    error = fields.String()


class HealthDetailsSchema(PingSchema):
    """GET /api/admin/health: /ping plus the server version, applied migration and pool figures."""

    databaseVersion = fields.String()
    migrationVersion = fields.String(allow_none=True)
    pool = fields.Nested(PoolStatsSchema)
    replicas = fields.List(fields.Nested(ReplicaStatusSchema),
                           metadata={"description": "only with DATABASE_REPLICA_URL: each replica's state and lag"})


class ImagesUploadedSchema(Schema):
    message = fields.String(required=True)
    images = fields.List(fields.Nested(images.ImageSchema), required=True)


class ImageUpdatedSchema(Schema):
    message = fields.String(required=True)
    image = fields.Nested(images.ImageSchema, required=True)


class OrderResultSchema(Schema):
    """Checkout ("Order created") and payment confirmation ("Payment confirmed")."""

    message = fields.String(required=True)
    order = fields.Nested(orders.OrderSchema, required=True)


class SellerCreatedSchema(Schema):
    """POST /api/admin/sellers; temporaryPassword and note only when the password was generated."""

    message = fields.String(required=True)
    seller = fields.Nested(admin_schemas.SellerSchema, required=True)
    temporaryPassword = fields.String()
    note = fields.String()


class PaginationSchema(Schema):
    limit = fields.Integer()
    offset = fields.Integer()
    total = fields.Integer()


class ActionsPageSchema(Schema):
    actions = fields.List(fields.Nested(admin_schemas.AdminActionSchema))
    pagination = fields.Nested(PaginationSchema)


class SecurityLogPageSchema(Schema):
    events = fields.List(fields.Nested(ops_schemas.AuthEventSchema))
    pagination = fields.Nested(PaginationSchema)


class NotificationsPageSchema(Schema):
    notifications = fields.List(fields.Nested(ops_schemas.NotificationSchema))
    pagination = fields.Nested(PaginationSchema)


class SalesFiguresSchema(Schema):
    count = fields.Integer()
    revenue = Money()


class DashboardSalesSchema(Schema):
    today = fields.Nested(SalesFiguresSchema)
    last30Days = fields.Nested(SalesFiguresSchema)


class DashboardSchema(Schema):
    usersByRole = fields.Dict(keys=fields.String(), values=fields.Integer())
    totalUsers = fields.Integer()
    pendingListings = fields.Integer()
    listingsByStatus = fields.Dict(keys=fields.String(), values=fields.Integer())
    sales = fields.Nested(DashboardSalesSchema)


class SellerPerformanceReportSchema(Schema):
    sellerId = fields.Integer()
    name = fields.String()
    email = fields.String()
    totalListings = fields.Integer()
    approvedListings = fields.Integer()
    approvalRate = fields.Float()
    salesCount = fields.Integer()
    salesValue = Money()
    monthly = fields.List(fields.Nested(ops_schemas.MonthFigures))


IMAGE_UPLOAD_FORM = {
    "type": "object",
    "required": ["images"],
    "properties": {
        "images": {
            "type": "array",
            "minItems": 1,
            "maxItems": 10,
            "items": {"type": "string", "format": "binary"},
            "description": "JPEG, PNG or WebP; at most 5 MB and 100×100 to 10000×10000 px each",
        },
    },
}
CAR_IDS = {"type": "array", "items": {"type": "integer", "minimum": 1}}
ANY_OBJECT = {"type": "object"}


# --- endpoint → operation ------------------------------------------------------------

@dataclass(frozen=True)
class Operation:
    """What one endpoint reads and answers.

    auth: PUBLIC, SIGNED_IN or a tuple of roles. request/response: a marshmallow schema
    (class or instance; `many=True` for arrays) or a raw JSON schema dict.
    """

    summary: str
    auth: str | tuple[str, ...] | None
    response: object
    request: object = None
    query: type[Schema] | None = None
    status: int = 200
    request_content_type: str = "application/json"
    response_content_type: str = "application/json"
    errors: tuple[int, ...] = ()
    headers: dict = field(default_factory=dict)


TOTAL_COUNT = {"X-Total-Count": {"description": "Number of matching cars (all pages)",
                                 "schema": {"type": "integer", "minimum": 0}}}

OPERATIONS: dict[str, Operation] = {
    "health.ping": Operation("Liveness and database state", PUBLIC, PingSchema),
    "health.health_details": Operation("Liveness plus database version, migration and pool figures", ADMIN,
                                       HealthDetailsSchema),
    "openapi.document": Operation("This OpenAPI document", PUBLIC, ANY_OBJECT),
    # auth
    "auth.register": Operation("Register as a buyer or seller", PUBLIC, AuthResultSchema,
                               request=users.RegisterSchema),
    "auth.login": Operation("Log in", PUBLIC, AuthResultSchema, request=users.LoginSchema, errors=(429,)),
    # users
    "users.get_profile": Operation("The caller's profile", SIGNED_IN, users.ProfileSchema),
    "users.update_profile": Operation("Change name, phone, address or avatar", SIGNED_IN, users.UserSchema,
                                      request=users.ProfileUpdateSchema),
    "users.list_users": Operation("Every user", ADMIN, users.UserListItemSchema(many=True)),
    # cars
    "cars.list_cars": Operation("Cars with primaryImage; optional filters, search, sort and paging", PUBLIC,
                                images.CarListItemSchema(many=True), query=car_inputs.CarListQuerySchema,
                                headers=TOTAL_COUNT),
    "cars.get_car": Operation("A car with its images and rating", PUBLIC, images.CarDetailSchema),
    "cars.create_car": Operation("List a car (status pending)", SELLER_OR_ADMIN, CarSchema,
                                 request=car_inputs.CarWriteSchema),
    "cars.update_car": Operation("Edit a car's editable fields", SELLER_OR_ADMIN, CarSchema,
                                 request=car_inputs.CarWriteSchema(partial=True)),
    "cars.delete_car": Operation("Remove a listing (409 when it has orders)", SELLER_OR_ADMIN, MessageSchema,
                                 errors=(409,)),
    # car images
    "images.list_images": Operation("A car's images by displayOrder", PUBLIC, images.ImageSchema(many=True)),
    "images.upload_images": Operation("Upload 1-10 images (re-encoded as JPEG)", SELLER_OR_ADMIN,
                                      ImagesUploadedSchema, request=IMAGE_UPLOAD_FORM, status=201,
                                      request_content_type="multipart/form-data"),
    "images.update_image": Operation("Make primary or reorder", SELLER_OR_ADMIN, ImageUpdatedSchema,
                                     request=images.ImageUpdateSchema),
    "images.delete_image": Operation("Delete an image (primary handed over)", SELLER_OR_ADMIN, MessageSchema),
    "images.image_file": Operation("The stored image bytes (ETag, long cache)", PUBLIC,
                                   {"type": "string", "format": "binary"}, response_content_type="image/jpeg"),
    # favorites, inquiries, reviews
    "favorites.list_favorites": Operation("The caller's favorite car ids", SIGNED_IN, CAR_IDS),
    "favorites.toggle_favorite": Operation("Add or remove a favorite", SIGNED_IN,
                                           favorites.FavoriteToggleResultSchema,
                                           request=favorites.FavoriteToggleSchema, errors=(404, 409)),
    "inquiries.list_my_inquiries": Operation("The caller's inquiries", SIGNED_IN,
                                             inquiries.InquirySchema(many=True)),
    "inquiries.create_inquiry": Operation("Ask about a car or request a test drive", SIGNED_IN,
                                          inquiries.InquirySchema, request=inquiries.InquiryCreateSchema,
                                          errors=(404,)),
    "reviews.list_car_reviews": Operation("A car's reviews", PUBLIC, reviews.ReviewSchema(many=True)),
    "reviews.create_review": Operation("Review a car (a second review replaces the first)", SIGNED_IN,
                                       reviews.ReviewSchema, request=reviews.ReviewCreateSchema, errors=(404,)),
    # seller workspace
    "seller_inquiries.list_inquiries": Operation("Inquiries addressed to the caller (admin: all)", SELLER_OR_ADMIN,
                                                 inquiries.InquirySchema(many=True)),
    "seller_inquiries.update_inquiry": Operation("Respond to or close an inquiry", SELLER_OR_ADMIN,
                                                 inquiries.InquirySchema, request=inquiries.InquiryStatusSchema),
    "seller.list_orders": Operation("Orders of the caller's cars (admin: all)", SELLER_OR_ADMIN,
                                    orders.OrderSchema(many=True)),
    "seller.create_order": Operation("A draft order for the caller's car", SELLER_OR_ADMIN, orders.OrderSchema,
                                     request=orders.OrderCreateSchema, errors=(404, 409)),
    "seller.update_order": Operation("Change an order's status or documents", SELLER_OR_ADMIN, orders.OrderSchema,
                                     request=orders.OrderUpdateSchema, errors=(409,)),
    "seller.update_inventory_status": Operation("Mark a listing available, reserved or sold", SELLER_OR_ADMIN,
                                                CarSchema, request=orders.InventoryStatusSchema, errors=(409,)),
    "seller.sales_report": Operation("Revenue and weekly sales from paid and completed orders", SELLER_OR_ADMIN,
                                     orders.SellerReportSchema),
    # admin console
    "admin.list_users": Operation("Every user", ADMIN, users.UserListItemSchema(many=True)),
    "admin.create_user": Operation("Create a user of any role", ADMIN, users.UserSchema,
                                   request=admin_schemas.CreateUserSchema),
    "admin.create_seller": Operation("Create a seller (password generated when empty)", ADMIN, SellerCreatedSchema,
                                     request=admin_schemas.CreateSellerSchema, status=201),
    "admin.update_user": Operation("Activate, deactivate, change role or contact fields", ADMIN, users.UserSchema,
                                   request=admin_schemas.UpdateUserSchema),
    "admin.list_actions": Operation("The audit log, newest first", ADMIN, ActionsPageSchema,
                                    query=admin_schemas.ActionsQuerySchema),
    "admin.sales_report": Operation("Sales report from real orders", ADMIN, admin_schemas.SalesReportSchema),
    "admin_cars.list_cars": Operation("Every car with primaryImage and rejectionReason", ADMIN,
                                      images.AdminCarListItemSchema(many=True), query=car_inputs.CarListQuerySchema,
                                      headers=TOTAL_COUNT),
    "admin_cars.set_approval": Operation("Approve or reject a listing", ADMIN, images.AdminCarSchema,
                                         request=car_inputs.CarApprovalSchema, errors=(409,)),
    "admin_ops.security_log": Operation("Logins, registrations, role and activation changes", ADMIN,
                                        SecurityLogPageSchema, query=ops_schemas.SecurityLogQuery),
    "admin_ops.dashboard": Operation("Users, listings and sales at a glance", ADMIN, DashboardSchema),
    "admin_ops.get_settings": Operation("Run-time settings (maintenance, discount)", ADMIN,
                                        ops_schemas.SettingsSchema),
    "admin_ops.update_settings": Operation("Change run-time settings", ADMIN, ops_schemas.SettingsSchema,
                                           request=ops_schemas.SettingsUpdateSchema),
    "admin_ops.seller_performance": Operation("One seller's listings and sales by month", ADMIN,
                                              SellerPerformanceReportSchema, query=ops_schemas.PerformanceQuery),
    "admin_ops.recent_notifications": Operation("The notification outbox, newest first", ADMIN,
                                                NotificationsPageSchema, query=ops_schemas.PageQuery),
    # payments
    "payments.checkout": Operation("Order an available car (buyers only)", ("user",), OrderResultSchema,
                                   request=orders.CheckoutSchema, errors=(404, 409)),
    "payments.confirm_payment": Operation("Pay for the caller's pending order", SIGNED_IN, OrderResultSchema,
                                          request=orders.ConfirmPaymentSchema, errors=(404, 409)),
    "payments.my_orders": Operation("The caller's orders with their car", SIGNED_IN,
                                    orders.OrderWithCarSchema(many=True)),
}


# --- custom fields → JSON schema ---------------------------------------------------

ALWAYS_SET_TIMESTAMPS = {"created_at", "updated_at", "occurred_at"}


def _custom_field_properties(self, field, ret, **kwargs) -> dict:
    """JSON schema of the project's own field types (cms.schemas.fields and friends)."""
    extra: dict = {}
    if isinstance(field, Id):
        extra = {"minimum": 1, "maximum": MAX_INT4,
                 "description": "An id: a JSON integer (a string of digits is accepted too)"}
    elif isinstance(field, Money):
        extra = {"minimum": 0, "maximum": float(MAX_PRICE), "description": "Money, at most 2 decimals"}
    elif isinstance(field, (StrictInteger, WholeNumber)) and "minimum" not in ret:
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
    plugin.map_to_openapi_type(Id, "integer", None)
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
    """A route of the app has no entry in OPERATIONS."""


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
    success: dict = {"description": spec_op.summary,
                     "content": _content(spec_op.response, spec_op.response_content_type)}
    if spec_op.headers:
        success["headers"] = spec_op.headers
    responses: dict = {str(spec_op.status): success}
    if endpoint == "images.image_file":
        responses["304"] = {"description": "Not modified (If-None-Match matched the ETag)"}
    errors = set(spec_op.errors) | {503}
    if path_params or spec_op.query is not None or spec_op.request is not None:
        errors.add(400)
    if path_params:
        errors.add(404)
    if spec_op.request is not None:
        errors |= {400, 413}
    if spec_op.auth is not PUBLIC:
        errors |= {401, 403}
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


def app_routes(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, METHOD, rule) of every route of the app, static files excluded."""
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((rule.endpoint, method, rule.rule))
    return sorted(routes, key=lambda route: (route[2], route[1]))


def build_document(app: Flask) -> dict:
    """The OpenAPI 3 document of every route of `app`; MissingOperation for an unmapped endpoint."""
    plugin = _marshmallow_plugin()
    spec = APISpec(
        title=TITLE,
        version=API_VERSION,
        openapi_version=OPENAPI_VERSION,
        plugins=[plugin],
        info={"description": "The HTTP API of the car marketplace (see the contract in docs). "
                             "Errors are JSON {error, details?}."},
    )
    _register_field_types(plugin)
    spec.components.security_scheme(
        SECURITY_SCHEME, {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    spec.components.schema("Error", schema=ErrorSchema)
    for status, description in ERROR_STATUSES.items():
        spec.components.response(f"Error{status}", {
            "description": description,
            "content": {"application/json": {"schema": "Error"}},
        })

    paths: dict[str, dict] = {}
    for endpoint, method, rule in app_routes(app):
        spec_op = OPERATIONS.get(endpoint)
        if spec_op is None:
            raise MissingOperation(f"{method} {rule} ({endpoint}) has no entry in cms.openapi.OPERATIONS")
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
    from cms import _register_blueprints
    from cms.schemas.fields import IdConverter

    app = Flask("cms_routes")
    app.url_map.strict_slashes = False
    app.url_map.converters["id"] = IdConverter
    _register_blueprints(app)
    return app
