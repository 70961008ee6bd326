"""Statements compiled once and run on the driver's cursor: the hot path's way to SQL.

`Connection.execute` costs 80-130 µs of CPU per statement on the benchmark machine
(cache key, parameter processing, result metadata, event dispatch) against 10-15 µs
for the driver itself, and a send runs about ten statements inside the writer. A
`Prepared` statement is compiled by SQLAlchemy once per dialect: its SQL text, the
order of its parameters and its types' bind and result conversions. After that it runs
directly on the DBAPI connection behind the `Connection` an interaction was given, in
the same transaction: a cursor of sqlite3's, or on PostgreSQL asyncpg's own prepared
statement, taken from the cache of SQLAlchemy's asyncpg adapter (`_on_asyncpg`). A
driver error goes through SQLAlchemy's own error handling, so callers see the same
exceptions as from `execute` (`IntegrityError`, and the engine's handling of a lost
or read-only database).

Only for positional parameter styles (SQLite's `?`, asyncpg's `$n`) and statements
without expanding IN lists: where a list varies in length, build one statement per
length with `numbered` and give the values with `numbered_values`, padded (`padded`)
or cut into pieces (`pieces`) so that a query has at most seven such forms. A bound
parameter may carry a default value (`bindparam(name, value)`), used when a call
leaves it out.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import BindParameter, Connection, Dialect, LargeBinary, Uuid, bindparam, insert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.util import await_only

T = TypeVar("T")
_NO_PARAMS: Mapping[str, Any] = {}
_UNSET = object()


def numbered(name: str, count: int) -> list[BindParameter[Any]]:
    """`count` UUID parameters name0, name1, ...: an IN list of one fixed length."""
    return [bindparam(f"{name}{i}", type_=Uuid()) for i in range(count)]


def numbered_values(name: str, values: Iterable[Any]) -> dict[str, Any]:
    """The parameters of `numbered(name, len(values))`."""
    return {f"{name}{i}": value for i, value in enumerate(values)}


def inserting(model: Any, *names: str, returning: Any = None) -> Prepared:
    """An INSERT into `model`'s table of the named columns (all of them when none are
    named; the others take their defaults). Every row given has exactly these keys.
    `returning`: a column the statement hands back (`Prepared.scalar`)."""
    columns = model.__table__.c
    statement = insert(model).values(
        {name: bindparam(name, type_=columns[name].type)
         for name in names or [c.name for c in columns]})
    return Prepared(statement if returning is None else statement.returning(returning))


def insert_of(dialect: str) -> Any:
    """The dialect's own `insert`, which has ON CONFLICT clauses
    (`on_conflict_do_nothing`, `on_conflict_do_update`): SQLite's or PostgreSQL's."""
    return postgresql_insert if dialect == "postgresql" else sqlite_insert


def per_dialect(build: Callable[[str], ClauseElement]) -> dict[str, Prepared]:
    """`build(dialect)` Prepared for each dialect the hub runs on, by dialect name: a
    statement whose form differs between them (`insert_of`)."""
    return {name: Prepared(build(name)) for name in ("sqlite", "postgresql")}


# The longest IN list of numbered parameters.
IN_LIST_MAX = 64


def padded(values: Iterable[T]) -> list[T]:
    """`values` (at least one, at most IN_LIST_MAX) with the last repeated up to the
    next power of two: the same IN list, of one of seven lengths."""
    found = list(values)
    if not 1 <= len(found) <= IN_LIST_MAX:
        raise ValueError(f"1-{IN_LIST_MAX} values in an IN list")
    size = 1 << (len(found) - 1).bit_length()
    return found + [found[-1]] * (size - len(found))


def pieces(values: Iterable[T]) -> Iterator[list[T]]:
    """`values` in padded pieces of at most IN_LIST_MAX."""
    found = list(values)
    for start in range(0, len(found), IN_LIST_MAX):
        yield padded(found[start:start + IN_LIST_MAX])


@dataclass(frozen=True, slots=True)
class _Form:
    """One statement compiled for one dialect."""

    sql: str
    # Per positional parameter: its name, its default (or _UNSET), its conversion.
    names: tuple[str, ...]
    defaults: tuple[Any, ...]
    binds: tuple[Callable[[Any], Any] | None, ...]
    # (column index, conversion) of the result columns that need one.
    results: tuple[tuple[int, Callable[[Any], Any]], ...]
    # When every parameter is required: (position, conversion) of those that have a
    # conversion, so that `_args` takes the values in one call and converts only these.
    converted: tuple[tuple[int, Callable[[Any], Any]], ...] | None


def _compile(statement: ClauseElement, dialect: Dialect) -> _Form:
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    if compiled.post_compile_params or compiled.literal_execute_params:
        raise ValueError("a Prepared statement cannot have expanding or literal parameters")
    if not compiled.positional or compiled.positiontup is None:
        raise ValueError(f"{dialect.name}: not a positional parameter style")
    names = tuple(compiled.positiontup)
    binds = compiled.binds
    defaults = tuple(
        _UNSET if binds[n].required or binds[n].callable is not None else binds[n].value
        for n in names)
    converters = tuple(_bind_converter(binds[n].type, dialect) for n in names)
    columns = getattr(statement, "exported_columns", ())
    results = tuple((i, convert) for i, convert in enumerate(
        _result_converter(c.type, dialect) for c in columns) if convert is not None)
    converted = None
    if names and all(default is _UNSET for default in defaults):
        converted = tuple((i, convert) for i, convert in enumerate(converters)
                          if convert is not None)
    return _Form(compiled.string, names, defaults, converters, results, converted)


def _bind_converter(type_: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    if isinstance(type_, LargeBinary) and dialect.name == "sqlite":
        return None  # sqlite3 takes bytes as they are; SQLAlchemy wraps them in a memoryview
    return type_.dialect_impl(dialect).bind_processor(dialect)  # type: ignore[no-any-return]


def _result_converter(type_: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    if isinstance(type_, Uuid) and type_.as_uuid and not dialect.supports_native_uuid:
        # Stored as 32 hex digits (SQLite): a list page converts hundreds of them.
        return _uuid_of_hex
    return type_.dialect_impl(dialect).result_processor(dialect, None)  # type: ignore[no-any-return]


_new_object = object.__new__
_set_slot = object.__setattr__
_UNKNOWN = uuid.SafeUUID.unknown


def _uuid_of_hex(value: str | None) -> uuid.UUID | None:
    """`uuid.UUID(hex=value)` for the 32 hex digits SQLite stores, at a fifth of its
    cost: UUID() first strips braces, dashes and a 'urn:uuid:' prefix, which stored
    values never have; anything but 32 hex digits goes to UUID() itself."""
    if value is None:
        return None
    number = int(value, 16) if len(value) == 32 else -1
    if not 0 <= number < 1 << 128:
        return uuid.UUID(hex=value)  # raises, as for anything not a stored UUID
    found = _new_object(uuid.UUID)
    _set_slot(found, "int", number)
    _set_slot(found, "is_safe", _UNKNOWN)
    return found


class Prepared:
    """A Core statement, compiled once per dialect, run on the DBAPI cursor.

    `rows`, `first` and `scalar` return plain tuples (converted as SQLAlchemy would:
    UUIDs, datetimes, booleans); `run` returns the affected row count; `run_many` runs
    the statement once per parameter set.
    """

    __slots__ = ("_forms", "statement")

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._forms: dict[str, _Form] = {}

    def _form(self, dialect: Dialect) -> _Form:
        form = self._forms.get(dialect.name)
        if form is None:
            form = self._forms[dialect.name] = _compile(self.statement, dialect)
        return form

    def rows(self, conn: Connection, params: Mapping[str, Any] = _NO_PARAMS
             ) -> list[tuple[Any, ...]]:
        form = self._form(conn.dialect)
        fetched, _ = _execute(conn, form, _args(form, params))
        results = form.results
        if not results:
            return [tuple(row) for row in fetched]
        converted = []
        for row in fetched:
            values = list(row)
            for index, convert in results:
                values[index] = convert(values[index])
            converted.append(tuple(values))
        return converted

    def first(self, conn: Connection, params: Mapping[str, Any] = _NO_PARAMS
              ) -> tuple[Any, ...] | None:
        found = self.rows(conn, params)
        return found[0] if found else None

    def scalar(self, conn: Connection, params: Mapping[str, Any] = _NO_PARAMS) -> Any:
        row = self.first(conn, params)
        return row[0] if row is not None else None

    def run(self, conn: Connection, params: Mapping[str, Any] = _NO_PARAMS) -> int:
        form = self._form(conn.dialect)
        return _execute(conn, form, _args(form, params))[1]

    def run_many(self, conn: Connection, params: Iterable[Mapping[str, Any]]) -> None:
        form = self._form(conn.dialect)
        _execute(conn, form, [_args(form, p) for p in params], many=True)


def _args(form: _Form, params: Mapping[str, Any]) -> Sequence[Any]:
    converted = form.converted
    if converted is not None:
        values = [params[name] for name in form.names]
        for index, conversion in converted:
            values[index] = conversion(values[index])
        return values
    args = []
    for name, default, convert in zip(form.names, form.defaults, form.binds, strict=True):
        value = params[name] if default is _UNSET else params.get(name, default)
        args.append(value if convert is None else convert(value))
    return tuple(args)


def _execute(conn: Connection, form: _Form, args: Any, many: bool = False
             ) -> tuple[Sequence[Sequence[Any]], int]:
    """Run the statement on the connection's driver: (the rows it returned, the rows it
    changed). `many`: `args` is a list of parameter sets, and no rows come back."""
    if not conn.in_transaction():
        # As `execute` would: the interaction's transaction (and on SQLite our BEGIN,
        # see hub.db.engine) starts with its first statement.
        conn.begin()
    driver = conn.connection.dbapi_connection
    try:
        if isinstance(driver, AsyncAdapt_asyncpg_connection):
            return await_only(_on_asyncpg(driver, form.sql, args, many,
                                          conn.dialect._invalidate_schema_cache_asof))
        cursor = driver.cursor()  # type: ignore[union-attr]
        try:
            if many:
                cursor.executemany(form.sql, args)
                return (), int(cursor.rowcount)
            cursor.execute(form.sql, args)
            return cursor.fetchall(), int(cursor.rowcount)
        finally:
            cursor.close()
    except Exception as err:
        if isinstance(err, conn.dialect.loaded_dbapi.Error):
            # SQLAlchemy's own handling: the wrapped exception, disconnect detection and
            # the engine's handle_error listeners (hub.db.engine), as for `execute`.
            conn._handle_dbapi_exception(err, form.sql, args, None, None)
        raise


async def _on_asyncpg(driver: AsyncAdapt_asyncpg_connection, sql: str, args: Any, many: bool,
                      schema_changed_at: float) -> tuple[Sequence[Sequence[Any]], int]:
    """What SQLAlchemy's asyncpg cursor does for a statement, without the cursor: its
    lazy BEGIN, its prepared statement cache (and that cache's invalidation after a
    schema change) and its translation of asyncpg's errors into DBAPI ones. About a
    fifth less CPU than going through the cursor, which also takes a lock (a
    connection serves one interaction at a time here), builds a description and
    copies the rows; one switch out of the greenlet per statement either way."""
    if driver._transaction is None:
        await driver._start_transaction()  # type: ignore[no-untyped-call]  # nothing in autocommit (a read)
    try:
        statement, _ = await driver._prepare(sql, schema_changed_at)  # type: ignore[no-untyped-call]
        if many:
            await statement.executemany(args)
            return (), -1
        rows = await statement.fetch(*args)
        status = statement.get_statusmsg()
    except Exception as error:
        driver._handle_exception(error)  # raises the DBAPI error
    count = status.rpartition(" ")[2] if status else ""
    return rows, int(count) if count.isdigit() else -1
