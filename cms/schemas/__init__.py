"""Marshmallow schemas: one module per area; common fields live in `fields`."""
