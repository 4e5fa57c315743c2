"""Declared once, next to the route: what a route reads, answers and who may call it.

    @bp.post("")
    @declare("List a car (status pending)", auth=SELLER_OR_ADMIN, body=CarWriteSchema, response=CarSchema)
    def create_car(body):
        return cars_service.create_car(db.connection(), caller(), body, runtime=runtime_settings())

The decorator authorizes (PUBLIC, SIGNED_IN or a tuple of roles; 401/403 before anything
else), parses the JSON body and the query string with their schemas (cms.api.http: every
error stays the JSON `{error, details?}` of cms.api.errors) and hands them to the view as
`body` and `query`, and dumps what the view returns with the response schema (a Response
the view builds itself passes through). cms.api.openapi_document builds /api/openapi.json from the same
declarations, kept on the view as `operation`: a route without one fails that build.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import jsonify, request
from flask_login import login_required
from marshmallow import Schema
from werkzeug.wrappers import Response

from cms import db
from cms.api import revalidation
from cms.api.http import load_json, load_query
from cms.api.idempotency import idempotent as under_idempotency_key
from cms.api.login import roles_required

PUBLIC = None
SIGNED_IN = "signed-in"  # any active user, whatever the role
SELLER_OR_ADMIN = ("seller", "admin")
ADMIN = ("admin",)


@dataclass(frozen=True)
class Operation:
    """What one endpoint reads and answers (for cms.api.openapi_document).

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
    other_answers: dict = field(default_factory=dict)
    idempotent: bool = False


def _fresh(schema, kwargs: dict | None = None) -> Schema:
    """A new instance of a declared schema (a class, or an instance whose many/partial are kept)."""
    if isinstance(schema, type):
        return schema(**(kwargs or {}))
    return type(schema)(many=schema.many, partial=schema.partial, **(kwargs or {}))


def _authorized(view: Callable, auth, forbidden: str) -> Callable:
    if auth is PUBLIC:
        return view
    if auth == SIGNED_IN:
        return login_required(view)
    return roles_required(*auth, message=forbidden)(view)


def declare(summary: str, *, auth, response, body=None, query=None, status: int = 200, errors: tuple = (),
            headers: dict | None = None, other_answers: dict | None = None,
            body_content_type: str = "application/json",
            response_content_type: str = "application/json", body_kwargs: Callable[[], dict] | None = None,
            forbidden: str = "Forbidden", replica_reads: bool = False, revalidate: bool = False,
            idempotent: bool = False) -> Callable:
    """Declare a route (see the module docstring).

    body/query: the schema that parses the JSON body / query string (body may also be a raw
    JSON schema dict, documented only: multipart uploads). response: the schema that dumps
    the view's result (a raw JSON schema dict: the result is sent as it is). status: the
    success status. errors: statuses beyond those the declaration implies. headers: response
    headers to document. other_answers: {status: description} of answers without a body
    (304). body_kwargs: per-request arguments of the body schema. forbidden: the 403 message
    for a caller of another role. replica_reads: the view only reads and tolerates replication
    lag, so a read replica may serve it (cms.db.replica_reads). revalidate: a public read whose
    answer carries an ETag naming the database's state (cms.api.revalidation); If-None-Match
    holding it is answered 304 before the view runs. idempotent: a POST that creates something; an
    Idempotency-Key header makes its retries answer the first result instead of writing again
    (cms.api.idempotency).
    """
    if revalidate:
        other_answers = {304: "Not modified: If-None-Match holds the current ETag", **(other_answers or {})}
    operation = Operation(
        summary=summary, auth=auth, response=response, request=body, query=query, status=status,
        request_content_type=body_content_type, response_content_type=response_content_type,
        errors=tuple(errors), headers=dict(headers or {}), other_answers=dict(other_answers or {}),
        idempotent=idempotent,
    )
    parses_body = body is not None and not isinstance(body, dict)
    dumper = None if isinstance(response, dict) else _fresh(response)
    # One instance each, shared by every request (a schema's load and dump keep no state between
    # calls); building the car list's query-string schema cost ~0.4 ms a request. A body schema
    # with per-request arguments (body_kwargs) is built for each request.
    query_loader = None if query is None else _fresh(query)
    body_loader = _fresh(body) if parses_body and body_kwargs is None else None

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def parse_call_dump(*args, **kwargs):
            if query_loader is not None:
                kwargs["query"] = load_query(query_loader)
            if parses_body:
                kwargs["body"] = load_json(body_loader or _fresh(body, body_kwargs()))
            tag = None
            if revalidate:
                held = request.if_none_match
                tag = revalidation.current_tag(conditional=bool(held))
                if held.contains_weak(tag):
                    return revalidation.not_modified(tag)
            result = view(*args, **kwargs)
            if isinstance(result, tuple) or (isinstance(result, Response) and tag is None):
                return result
            if not isinstance(result, Response):
                result = jsonify(result if dumper is None else dumper.dump(result))
                result.status_code = status
            if tag is not None and "ETag" not in result.headers:  # else: the view's own (the data's state)
                result.headers.extend(revalidation.validator_headers(tag))
            return result

        handler = under_idempotency_key(parse_call_dump) if idempotent else parse_call_dump
        wrapped = _authorized(db.replica_reads(handler) if replica_reads else handler, auth, forbidden)
        wrapped.operation = operation
        return wrapped

    return decorator
