"""The service's blueprints, one per area of the contract, in the order they are registered."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    """Every area of the contract, on `app` (the service's, or cms.api.openapi_document's bare one)."""
    from cms.api import (
        admin,
        admin_cars,
        admin_ops,
        cars,
        favorites,
        health,
        images,
        inquiries,
        metrics,
        openapi,
        payments,
        reviews,
        seller,
        seller_inquiries,
        users,
    )
    from cms.api import auth as auth_api

    for module in (health, admin_ops, auth_api, users, cars, images, favorites, inquiries, reviews,
                   seller, seller_inquiries, admin, admin_cars, payments, openapi, metrics):
        app.register_blueprint(module.bp)
    app.register_blueprint(openapi.docs_bp)
