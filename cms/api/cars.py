"""Routes of this area of the contract (being built)."""

from flask import Blueprint

bp = Blueprint("cars", __name__)
