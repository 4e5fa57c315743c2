"""Routes of this area of the contract (being built)."""

from flask import Blueprint

bp = Blueprint("seller_inquiries", __name__)
