"""JSON writers compiled from output schemas: the fast path of the hottest answers, with no second
description of their fields.

A writer writes exactly what jsonify(Schema().dump(obj)) sends (keys in the schema's order, the
same values, json's ASCII escaping, the same number formats) without marshmallow's per-field
machinery, which costs several times the query on a car list. It is made once, at import, from the
schema's declared fields: each field becomes one piece of a single f-string, and the function's
source is compiled (as dataclasses and namedtuple make their methods). A field type the compiler
does not know is a TypeError at import, never a silent difference; tests/test_car_list_dump.py holds
every writer next to its schema's dump, byte for byte.

Two sources of values: a dict keyed by the schema's attribute names (row_writer=False), or a
tuple row whose positions a `columns` dict gives (a Nested field's columns are named
<field>_<nested field>, e.g. primary_image_image_url, and the nested object is null when its id is).
A schema's `written_together` (attribute names) are written only when the first is not None, as
its post_dump leaves them out (CarSchema: the discount fields).
"""

from __future__ import annotations

from collections.abc import Callable
from json.encoder import encode_basestring_ascii

from marshmallow import Schema, fields

from cms.schemas.fields import Money, NonNullString, UtcDateTime, money, utc_text


def json_text(value) -> str:
    """A string (or null) as json.dumps writes it with ensure_ascii."""
    return "null" if value is None else encode_basestring_ascii(value)


def json_time(value) -> str:
    """A `timestamp` (PostgreSQL's text or a datetime) as UtcDateTime's JSON string, or null."""
    return "null" if value is None else f'"{utc_text(value)}"'


def json_money(value) -> str:
    """A price as Money dumps it and json.dumps writes it: 20000, 19999.99, or null."""
    number = money(value)
    return "null" if number is None else repr(number)


def json_int(value) -> str:
    return "null" if value is None else repr(int(value))


def json_float(value) -> str:
    return "null" if value is None else repr(float(value))


def json_bool(value) -> str:
    return "null" if value is None else ("true" if value else "false")


def _writer_of(field: fields.Field) -> str:
    """The name of the function (in _NAMESPACE) that writes a value as the field dumps it. Exact
    types only: a subclass may dump differently, so it needs an entry of its own."""
    kinds = {NonNullString: "_text_or_empty", fields.String: "_text", Money: "_money", UtcDateTime: "_time",
             fields.Boolean: "_bool", fields.Integer: "_int", fields.Float: "_float"}
    if type(field) not in kinds:
        raise TypeError(f"no JSON writer for {type(field).__name__}: add one to cms/schemas/writers.py")
    return kinds[type(field)]


def _text_or_empty(value) -> str:
    return encode_basestring_ascii(value or "")


_NAMESPACE = {"_text": json_text, "_text_or_empty": _text_or_empty, "_money": json_money, "_time": json_time,
              "_bool": json_bool, "_int": json_int, "_float": json_float}


def _literal(text: str) -> str:
    """Text as it stands inside the generated f-string (braces doubled, quotes escaped)."""
    return text.replace("\\", "\\\\").replace("'", "\\'").replace("{", "{{").replace("}", "}}")


class _Compiler:
    """The source of one writer function: `prelude` lines run once per call (column positions),
    `per_item` lines once per object before its f-string, and the f-string of the object."""

    def __init__(self, row_writer: bool):
        self.row_writer = row_writer
        self.prelude: list[str] = []
        self.per_item: list[str] = []
        self.namespace = dict(_NAMESPACE)
        self.names = 0

    def local(self, stem: str) -> str:
        self.names += 1
        return f"_{stem}{self.names}"

    def value(self, attribute: str, prefix: str, *, may_be_missing: bool = False) -> str:
        """The expression of an attribute's value: item[position] of a row, or item["name"] of a dict
        (item.get("name") for one that may be missing: a missing key is a None there)."""
        if self.row_writer:
            position = self.local("at")
            self.prelude.append(f"{position} = columns[{prefix + attribute!r}]")
            return f"item[{position}]"
        return f'item.get("{attribute}")' if may_be_missing else f'item["{attribute}"]'

    def object(self, schema: Schema, prefix: str = "") -> str:
        """The f-string text (no quotes) of one of the schema's objects, written from `item`."""
        together = tuple(getattr(schema, "written_together", ()))
        text, group = "", []
        for attribute, field in schema.dump_fields.items():
            piece = f'"{_literal(field.data_key or attribute)}":{{{self.field(field, attribute, prefix)}}}'
            if attribute not in together:
                text += ("," if text else "") + piece
                continue
            group.append(piece)
            if attribute == together[-1]:  # the group stands where its last field does
                if not text:
                    raise TypeError(f"{type(schema).__name__}.written_together cannot open the object")
                variable, first = self.local("together"), self.value(together[0], prefix, may_be_missing=True)
                self.per_item.append(f"{variable} = '' if {first} is None else f',{','.join(group)}'")
                text += f"{{{variable}}}"
        return "{{" + text + "}}"

    def field(self, field: fields.Field, attribute: str, prefix: str) -> str:
        """The expression (inside the f-string) of one field's JSON."""
        if isinstance(field, fields.Nested) and self.row_writer:
            return self.nested_columns(field.schema, attribute, prefix)
        if isinstance(field, fields.Nested):
            write = self.local("write")
            self.namespace[write] = compile_writer(type(field.schema))
            return f'"null" if {self.value(attribute, prefix)} is None else {write}({self.value(attribute, prefix)})'
        if isinstance(field, fields.List) and isinstance(field.inner, fields.Nested) and not self.row_writer:
            write = self.local("write")
            self.namespace[write] = compile_writer(type(field.inner.schema))
            return f'"["+",".join([{write}(one) for one in {self.value(attribute, prefix)}])+"]"'
        return f"{_writer_of(field)}({self.value(attribute, prefix)})"

    def nested_columns(self, schema: Schema, attribute: str, prefix: str) -> str:
        """A nested object of a row: its fields are the columns <attribute>_<field>; null when its id is."""
        nested_prefix = f"{prefix}{attribute}_"
        text = self.object(schema, nested_prefix)
        variable = self.local("nested")
        self.per_item.append(f"{variable} = 'null' if {self.value('id', nested_prefix)} is None else f'{text}'")
        return variable


def compile_writer(schema_class: type[Schema], *, row_writer: bool = False) -> Callable:
    """The writer of schema_class's objects (see the module docstring); its source is in `.source`.

    row_writer=False: write(item: dict) -> str. row_writer=True: write(rows, columns) yields one
    str per row (rows: tuples; columns: name -> position, looked up once per call).
    """
    compiler = _Compiler(row_writer)
    text = compiler.object(schema_class())
    if row_writer:
        lines = [*compiler.prelude, "for item in rows:", *(f"    {line}" for line in compiler.per_item),
                 f"    yield f'{text}'"]
        source = "def write(rows, columns):\n" + "".join(f"    {line}\n" for line in lines)
    else:
        source = "def write(item):\n" + "".join(f"    {line}\n" for line in [*compiler.per_item, f"return f'{text}'"])
    namespace = dict(compiler.namespace)
    exec(compile(source, f"<writer of {schema_class.__name__}>", "exec"), namespace)  # noqa: S102 - our own source
    write = namespace["write"]
    write.source = source
    return write
