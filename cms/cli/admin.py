"""`cms create-admin`: an admin account, with only DATABASE_URL (no JWT secret, no pool)."""

from __future__ import annotations

import click
import psycopg
from marshmallow import ValidationError

from cms import db
from cms.cli.common import database_url, settings
from cms.errors import AppError
from cms.repositories import users as users_repo
from cms.schemas.fields import Email
from cms.services.passwords import hash_password


@click.command("create-admin")
@click.option("--email", required=True)
@click.option("--name", default="Administrator", show_default=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def create_admin(email: str, name: str, password: str) -> None:
    """Create an admin account (or fail if the email is taken).

    Needs only DATABASE_URL (no JWT secret, no pool): one connection, one transaction.
    """
    try:
        email = Email().deserialize(email)  # the rule of every other account (cms/schemas/fields.py)
    except ValidationError as error:
        raise click.ClickException(f"{email!r}: {' '.join(error.messages)}") from None
    if len(password) < 8:
        raise click.ClickException("the password must have at least 8 characters")
    url = database_url()
    current = settings()
    try:
        password_hash = hash_password(password, current.bcrypt_rounds)
    except AppError as error:
        raise click.ClickException(error.message) from None
    try:
        with db.connect(url, settings=current) as conn, conn.transaction():
            if users_repo.email_taken(conn, email):
                raise click.ClickException(f"an account with email {email} already exists")
            user = users_repo.insert_user(conn, name=name, email=email, password_hash=password_hash, role="admin")
    except psycopg.Error as error:
        raise click.ClickException(f"cannot create the admin in {db.redact(url)}: {db.one_line(error)}") from None
    click.echo(f"admin {user['email']} created with id {user['id']}")
