"""Passwords: bcrypt hashes and checks, generated temporary ones, and the strength rule for sellers.

The rule (contract, POST /api/admin/sellers): at least 8 characters with an
upper-case letter, a lower-case letter, a digit and one of the symbols
`!@#$%^&*-_=+`. Letters and digits are the ASCII ones, as in the old server's
checks. At most 72 bytes in UTF-8, bcrypt's limit.
"""

from __future__ import annotations

import secrets
import string

import bcrypt

from cms.errors import Invalid

SYMBOLS = "!@#$%^&*-_=+"
MIN_LENGTH = 8
MAX_BYTES = 72  # bcrypt ignores (bcrypt 5: refuses) anything longer
GENERATED_LENGTH = 12

_CLASSES = (string.ascii_uppercase, string.ascii_lowercase, string.digits, SYMBOLS)
_ALPHABET = "".join(_CLASSES)


def generate_password(length: int = GENERATED_LENGTH) -> str:
    """A random password from `secrets`: `length` characters, at least one of each class."""
    if length < len(_CLASSES):
        raise ValueError(f"a password needs at least {len(_CLASSES)} characters")
    chars = [secrets.choice(group) for group in _CLASSES]
    chars += [secrets.choice(_ALPHABET) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def password_problems(password: str) -> list[str]:
    """What the password lacks, as sentences for a person; empty when it is strong enough."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"Must be at least {MIN_LENGTH} characters long.")
    if len(password.encode("utf-8")) > MAX_BYTES:
        problems.append(f"Must be at most {MAX_BYTES} bytes long.")
    if not any(c in string.ascii_uppercase for c in password):
        problems.append("Must contain an upper-case letter (A-Z).")
    if not any(c in string.ascii_lowercase for c in password):
        problems.append("Must contain a lower-case letter (a-z).")
    if not any(c in string.digits for c in password):
        problems.append("Must contain a digit (0-9).")
    if not any(c in SYMBOLS for c in password):
        problems.append(f"Must contain one of these symbols: {SYMBOLS}")
    return problems


def is_strong(password: str) -> bool:
    return not password_problems(password)


def password_bytes(password: str) -> bytes:
    """The password as bcrypt takes it; a 400 beyond MAX_BYTES."""
    encoded = password.encode("utf-8")
    if len(encoded) > MAX_BYTES:
        raise Invalid(
            f"Password is too long (at most {MAX_BYTES} bytes)",
            {"password": [f"At most {MAX_BYTES} bytes."]},
        )
    return encoded


def hash_password(password: str, rounds: int) -> str:
    """A bcrypt hash ($2b$) at the given cost (BCRYPT_ROUNDS)."""
    return bcrypt.hashpw(password_bytes(password), bcrypt.gensalt(rounds=rounds)).decode("ascii")


def check_password(password: str, password_hash: str | None) -> bool:
    """True when the password matches; $2a$ hashes of the old server verify too."""
    if not password_hash:
        return False
    encoded = password.encode("utf-8")
    if len(encoded) > MAX_BYTES:
        return False
    try:
        return bcrypt.checkpw(encoded, password_hash.encode("ascii"))
    except ValueError:  # not a bcrypt hash at all
        return False
