"""Routes of this area of the contract (being built)."""

from flask import Blueprint

bp = Blueprint("reviews", __name__)
