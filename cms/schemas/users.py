"""Users, registration and login bodies."""

from __future__ import annotations

from marshmallow import EXCLUDE, ValidationError, fields, post_load, pre_load, validate, validates_schema

from cms.schemas.fields import Email, InputSchema, LoginEmail, OutputSchema, SafeUrl, Text, UtcDateTime

ROLES = ("user", "seller", "admin")
SELF_REGISTER_ROLES = ("user", "seller")


class UserSchema(OutputSchema):
    """A user as the API shows it: never the password hash."""

    id = fields.Integer()
    name = fields.String()
    email = fields.String()
    role = fields.String()
    is_active = fields.Boolean(data_key="isActive")
    last_login = UtcDateTime(data_key="lastLogin")
    phone = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    avatar = fields.String(allow_none=True)
    created_at = UtcDateTime(data_key="createdAt")
    updated_at = UtcDateTime(data_key="updatedAt")


# The narrower views of a user name their fields (in their order) out of UserSchema's.

class ProfileSchema(UserSchema):
    """GET /api/users/profile."""

    class Meta:
        fields = ("id", "name", "email", "role", "phone", "address", "avatar")


class UserListItemSchema(UserSchema):
    """A row of GET /api/users and GET /api/admin/users."""

    class Meta:
        fields = ("id", "name", "email", "role", "is_active", "last_login")


class SellerSchema(UserSchema):
    """The seller in the answer of POST /api/admin/sellers."""

    class Meta:
        fields = ("id", "name", "email", "role", "phone", "address", "is_active")


class RegisterSchema(InputSchema):
    """POST /api/auth/register. Extra keys of the form (e.g. confirmPassword) are ignored."""

    class Meta:
        unknown = EXCLUDE

    name = Text(required=True, max_length=255, validate=validate.Length(min=1, error="Must not be empty."))
    email = Email(required=True)
    password = fields.String(required=True, validate=validate.Length(min=6, max=72,
                             error="Must be between 6 and 72 characters."))
    role = fields.String(load_default="user")

    @validates_schema
    def _known_role(self, data, **kwargs):
        if data.get("role") not in SELF_REGISTER_ROLES:
            raise ValidationError("Choose user or seller.", field_name="role")


class LoginSchema(InputSchema):
    """POST /api/auth/login."""

    class Meta:
        unknown = EXCLUDE

    email = LoginEmail(required=True)
    password = fields.String(required=True, validate=validate.Length(max=1024))

    @post_load(pass_original=True)
    def _typed_email(self, data, original, **kwargs):
        # An account stored before emails were normalized may hold compatibility characters ("ｌ"):
        # its owner types them, and the login finds it under the address as typed too.
        data["typed_email"] = original["email"].strip()
        return data


class ProfileUpdateSchema(InputSchema):
    """PATCH /api/users/profile: only these four fields; anything else is refused."""

    # The profile form may send back the whole profile it loaded: those keys are accepted
    # (and ignored) while they hold the caller's current values; a different value is refused.
    READ_ONLY_KEYS = ("id", "email", "role")

    def __init__(self, *, profile: dict | None = None, **kwargs):
        """`profile`: the caller's current profile as ProfileSchema dumps it."""
        super().__init__(**kwargs)
        self.profile = profile

    @pre_load
    def _drop_unchanged_read_only_keys(self, data, **kwargs):
        if not isinstance(data, dict) or self.profile is None:
            return data
        return {k: v for k, v in data.items() if not (k in self.READ_ONLY_KEYS and v == self.profile.get(k))}

    name = Text(max_length=255, validate=validate.Length(min=1, error="Must not be empty."))
    phone = Text(max_length=50, allow_none=True)
    address = Text(max_length=2000, allow_none=True)
    # The frontend may send an uploaded picture inline as a data: URL (the old server kept
    # whatever it got in a text column): allow about 1.5 MB of image, not just a link.
    avatar = SafeUrl(max_length=2_000_000, image_data=True, allow_none=True)


class AuthResultSchema(OutputSchema):
    """POST /api/auth/register and /login: the user (no password hash) and a JWT."""

    user = fields.Nested(UserSchema, required=True)
    token = fields.String(required=True, metadata={"description": "JWT (HS256): id, role, email, iat, exp"})
