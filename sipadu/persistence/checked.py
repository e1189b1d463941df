"""Column types for sealed rows that no stored value can make fail to load.

SQLite lets any column hold any type: a database writer can put text that is not UTF-8
into a ciphertext column, ``'abc'`` into an integer, a malformed date or a non-UUID. The
driver (or SQLAlchemy's own conversion) then raises while the row is *loaded*, before any
integrity check runs, and the page that shows the row is a 500 (issue 15, item 9).

These types read the column, on SQLite only, as ``CAST(column AS BLOB)``: whatever was
stored comes back as bytes and is parsed here. A ciphertext column holding anything but
a BLOB reads as ``b"\x00"``, which no format version opens; a value that does not
parse as the column's type comes back as that type's ``MALFORMED_*`` value, which no
writer ever stores and which fails the row's integrity check
(:mod:`sipadu.services.row_metadata` refuses to bind it). Writes and ``WHERE`` clauses
are untouched, so indexes still serve. PostgreSQL enforces the column types itself and
reads them unchanged.
"""

import re
import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, DateTime, Integer, LargeBinary, String, Uuid
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator, TypeEngine

# What a stored value that is not of its column's type reads as. None of them is ever
# written: epochs and positions count from 0, ids are random, dates are this century's.
MALFORMED_INT = -1
MALFORMED_UUID = uuid.UUID(int=0)
MALFORMED_DATE = date.min
MALFORMED_DATETIME = datetime.min
# A word (an author, a field name) that is not UTF-8 reads with replacement characters,
# which no word SIPADU writes contains.

_INTEGER = re.compile(rb"-?[0-9]+")
_DAY = re.compile(rb"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INSTANT = re.compile(rb"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{6})?")


class _AsStored(FunctionElement[Any]):
    """``CAST(column AS BLOB)`` on SQLite, the column itself elsewhere."""

    name = "as_stored"
    inherit_cache = True

    def __init__(self, column: ColumnElement[Any], type_: TypeEngine[Any]) -> None:
        super().__init__(column)
        self.type = type_  # the column's own: its result processor parses what comes back


@compiles(_AsStored)
def _as_stored(element: _AsStored, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(_AsStored, "sqlite")
def _as_stored_sqlite(element: _AsStored, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS BLOB)"


class _AsSealed(FunctionElement[Any]):
    """On SQLite: the column if it holds a BLOB (or NULL), else ``X'00'``, a sealed
    format version that does not exist; the column itself elsewhere."""

    name = "as_sealed"
    inherit_cache = True

    def __init__(self, column: ColumnElement[Any], type_: TypeEngine[Any]) -> None:
        super().__init__(column)
        self.type = type_


@compiles(_AsSealed)
def _as_sealed(element: _AsSealed, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(_AsSealed, "sqlite")
def _as_sealed_sqlite(element: _AsSealed, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"CASE typeof({column}) WHEN 'blob' THEN {column} WHEN 'null' THEN NULL ELSE X'00' END"


class _Checked(TypeDecorator[Any]):
    """Read as stored bytes on SQLite; parsed by :meth:`parse`, which never raises."""

    cache_ok = True
    malformed: Any = None

    def column_expression(self, colexpr: ColumnElement[Any]) -> ColumnElement[Any]:
        return _AsStored(colexpr, type_=self)

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        convert = self.impl_instance.dialect_impl(dialect).result_processor(dialect, coltype)

        def process(value: Any) -> Any:
            if value is None:
                return None
            try:
                return self.parse(bytes(value), convert)
            except (ValueError, TypeError, OverflowError):  # UnicodeDecodeError is a ValueError
                return self.malformed

        return process

    def parse(self, stored: bytes, convert: Callable[[Any], Any] | None) -> Any:
        text = stored.decode("utf-8")
        return convert(text) if convert is not None else text


class SealedBytes(_Checked):
    """A ciphertext column: always bytes. Ciphertext is only ever written as a BLOB: a
    TEXT, INTEGER or REAL value, even one holding the same bytes, was stored by someone
    else and reads as ``b"\\x00"``, which opens as nothing (issue 15, item 9)."""

    impl = LargeBinary
    cache_ok = True

    def column_expression(self, colexpr: ColumnElement[Any]) -> ColumnElement[Any]:
        return _AsSealed(colexpr, type_=self)

    def parse(self, stored: bytes, convert: Callable[[Any], Any] | None) -> Any:
        return stored


class CheckedInt(_Checked):
    impl = Integer
    cache_ok = True
    malformed = MALFORMED_INT

    def parse(self, stored: bytes, convert: Callable[[Any], Any] | None) -> Any:
        if not _INTEGER.fullmatch(stored):
            raise ValueError("not an integer")
        return int(stored)


class CheckedWord(_Checked):
    """Text; one that is not UTF-8 reads with replacement characters."""

    impl = String
    cache_ok = True

    def parse(self, stored: bytes, convert: Callable[[Any], Any] | None) -> Any:
        return stored.decode("utf-8", errors="replace")


class CheckedUuid(_Checked):
    impl = Uuid
    cache_ok = True
    malformed = MALFORMED_UUID


class CheckedDate(_Checked):
    """A day as SQLAlchemy stores it on SQLite (``2025-03-14``) and nothing else."""

    impl = Date
    cache_ok = True
    malformed = MALFORMED_DATE

    def parse(self, stored: bytes, convert: Callable[[Any], Any] | None) -> Any:
        if not _DAY.fullmatch(stored):
            raise ValueError("not a day")
        return super().parse(stored, convert)


class CheckedDateTime(_Checked):
    """A time as SQLAlchemy stores it on SQLite (``2025-03-14 09:26:53.589793``)."""

    impl = DateTime
    cache_ok = True
    malformed = MALFORMED_DATETIME

    def parse(self, stored: bytes, convert: Callable[[Any], Any] | None) -> Any:
        if not _INSTANT.fullmatch(stored):
            raise ValueError("not a time")
        return super().parse(stored, convert)


def stored_type(type_: TypeEngine[Any]) -> TypeEngine[Any]:
    """The type a column stores (a checked column's underlying type): what code that
    looks at the schema (row order rewrites, schema tests) must go by."""
    return type_.impl_instance if isinstance(type_, TypeDecorator) else type_


def is_malformed(value: object) -> bool:
    """Whether ``value`` is what a stored value of the wrong type reads as."""
    return any(
        value is m or (type(value) is type(m) and value == m)
        for m in (MALFORMED_INT, MALFORMED_UUID, MALFORMED_DATE, MALFORMED_DATETIME)
    ) or (isinstance(value, str) and "\ufffd" in value)


__all__ = [
    "MALFORMED_DATE",
    "MALFORMED_DATETIME",
    "MALFORMED_INT",
    "MALFORMED_UUID",
    "CheckedDate",
    "CheckedDateTime",
    "CheckedInt",
    "CheckedUuid",
    "CheckedWord",
    "SealedBytes",
    "is_malformed",
    "stored_type",
]
