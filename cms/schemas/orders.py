"""Orders, checkout and payment bodies, inventory status changes and the seller's report."""

from __future__ import annotations

import datetime as dt

from marshmallow import EXCLUDE, ValidationError, fields, post_load, validate

from cms.schemas.cars import CarSchema
from cms.schemas.fields import Id, InputSchema, Money, OutputSchema, SafeUrl, Text, UtcDateTime, utc_text

ORDER_STATUSES = ("draft", "pending", "pending_payment", "paid", "completed", "cancelled")
INVENTORY_STATUSES = ("available", "reserved", "sold")
MAX_DOCUMENTS = 50


def _not_empty(value: str) -> None:
    if not value:
        raise ValidationError("Must not be empty.")




# --- requests ----------------------------------------------------------------------

class DocumentSchema(InputSchema):
    """One document of an order: {name, url, uploadedAt?}. Stored as {name, url, uploadedAt}
    with uploadedAt normalised to UTC ISO-8601 (now when missing); other keys are dropped."""

    class Meta:
        unknown = EXCLUDE

    name = Text(required=True, max_length=255, validate=_not_empty)
    # Document links end up in an <a href> of the seller's and the buyer's pages.
    url = SafeUrl(required=True, max_length=2048, validate=_not_empty)
    uploaded_at = fields.DateTime(data_key="uploadedAt", load_default=None, allow_none=True)

    @post_load
    def _stored_shape(self, data, **kwargs):
        uploaded_at = data.get("uploaded_at") or dt.datetime.now(dt.UTC)
        try:
            stamp = utc_text(uploaded_at)
        except OverflowError:  # e.g. 9999-12-31T23:00:00-05:00 falls after year 9999 in UTC
            raise ValidationError("Not a valid datetime.", "uploadedAt") from None
        return {"name": data["name"], "url": data["url"], "uploadedAt": stamp}


class OrderCreateSchema(InputSchema):
    """POST /api/seller/orders. finalPrice missing or null means the car's price."""

    class Meta:
        unknown = EXCLUDE

    car_id = Id(data_key="carId", required=True)
    buyer_id = Id(data_key="buyerId", required=True)
    final_price = Money(data_key="finalPrice", load_default=None, allow_none=True)


class OrderUpdateSchema(InputSchema):
    """PATCH /api/seller/orders/:id: status and/or documents (the whole list, replacing the old one;
    null means an empty list). Other keys are ignored: nothing else of an order can change."""

    class Meta:
        unknown = EXCLUDE

    status = fields.String(validate=validate.OneOf(
        ORDER_STATUSES, error=f"Must be one of: {', '.join(ORDER_STATUSES)}."))
    documents = fields.List(
        fields.Nested(DocumentSchema), allow_none=True,
        validate=validate.Length(max=MAX_DOCUMENTS, error=f"At most {MAX_DOCUMENTS} documents."),
    )


class InventoryStatusSchema(InputSchema):
    """PATCH /api/seller/inventory/:id/status."""

    class Meta:
        unknown = EXCLUDE

    status = fields.String(required=True, validate=validate.OneOf(
        INVENTORY_STATUSES, error=f"Must be one of: {', '.join(INVENTORY_STATUSES)}."))


class CheckoutSchema(InputSchema):
    """POST /api/payments/checkout."""

    class Meta:
        unknown = EXCLUDE

    car_id = Id(data_key="carId", required=True)


class ConfirmPaymentSchema(InputSchema):
    """POST /api/payments/confirm-payment."""

    class Meta:
        unknown = EXCLUDE

    order_id = Id(data_key="orderId", required=True)


# --- responses ---------------------------------------------------------------------

class DocumentList(fields.Field):
    """The stored documents array as it is; [] instead of null (old rows may have none)."""

    def _serialize(self, value, attr, obj, **kwargs):
        return value if isinstance(value, list) else []


class OrderSchema(OutputSchema):
    """An order: {id, carId, buyerId, sellerId, finalPrice, status, documents, createdAt, updatedAt}."""

    id = fields.Integer()
    car_id = fields.Integer(data_key="carId", allow_none=True)
    buyer_id = fields.Integer(data_key="buyerId", allow_none=True)
    seller_id = fields.Integer(data_key="sellerId", allow_none=True)
    final_price = Money(data_key="finalPrice", allow_none=True)
    status = fields.String()
    documents = DocumentList()
    created_at = UtcDateTime(data_key="createdAt")
    updated_at = UtcDateTime(data_key="updatedAt")


class OrderWithCarSchema(OrderSchema):
    """An order of GET /api/payments/my-orders: the order plus its `car` (null when it has none)."""

    car = fields.Nested(CarSchema, allow_none=True)


class WeeklySalesSchema(OutputSchema):
    week = fields.Date()
    sales = fields.Integer()
    revenue = Money()


class SellerReportSchema(OutputSchema):
    """GET /api/seller/reports: {totalRevenue, totalSales, weeklyData:[{week, sales, revenue}]}."""

    total_revenue = Money(data_key="totalRevenue")
    total_sales = fields.Integer(data_key="totalSales")
    weekly_data = fields.List(fields.Nested(WeeklySalesSchema), data_key="weeklyData")


class OrderResultSchema(OutputSchema):
    """Checkout ("Order created") and payment confirmation ("Payment confirmed")."""

    message = fields.String(required=True)
    order = fields.Nested(OrderSchema, required=True)
