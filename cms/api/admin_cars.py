"""Routes of this area of the contract (being built)."""

from flask import Blueprint

bp = Blueprint("admin_cars", __name__)
