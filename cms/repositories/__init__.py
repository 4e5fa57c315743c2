"""Thin functions over the named queries: one module per table or area.

Every function takes the connection first and returns dict rows.
"""
