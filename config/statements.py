"""Reads whose statement the ORM builds once per process, then runs with each call's id.

For the few reads that run for every live connect, building the SQL with the ORM costs more CPU
than running it. `PreparedRead(build)` asks the ORM once (per database alias and vendor) for the
statement of `build(STAND_IN_ID)`, and then sends that statement with the caller's id in the
stand-in's place: the queryset may depend on the id only as a parameter (filter(user_id=id),
never e.g. a Python branch on its value). The rows are the database's own values (no field
converters: convert with the field's `to_python` where the type matters).
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, connections
from django.db.models import QuerySet

STAND_IN_ID = 1_987_654_321  # an int every integer key column takes; no real row's


class _Captured(Exception):
    """Not an error: how the statement leaves the ORM unsent (capture)."""

    def __init__(self, sql: str, params) -> None:
        super().__init__("captured")
        self.sql, self.params = sql, tuple(params)


def _capture(execute, sql, params, many, context):
    raise _Captured(sql, params)


def capture(queryset: QuerySet) -> tuple[str, tuple]:
    """The SQL and parameters `queryset` would send, sent nowhere. The ORM evaluates it under an
    execute wrapper that takes the statement and sends nothing, in a thread of its own (its own
    connection: a wrapper that counts the caller's statements sees none)."""
    alias = queryset.db
    captured: list[_Captured] = []

    def run() -> None:
        own = connections[alias]
        try:
            own.ensure_connection()  # what a new connection runs first is not the statement
            with own.execute_wrapper(_capture):
                list(queryset)
        except _Captured as statement:
            captured.append(statement)
        finally:
            own.close()

    thread = threading.Thread(target=run, name="prepare-statement")
    thread.start()
    thread.join()
    if not captured:
        raise RuntimeError("the statement was not captured")
    return captured[0].sql, captured[0].params


@dataclass(frozen=True)
class _Statement:
    sql: str
    params: tuple
    id_at: tuple[int, ...]  # where the id goes in params


class PreparedRead:
    """`build(id) -> QuerySet`, built once per database, run as `rows(id)`."""

    def __init__(self, build: Callable[[int], QuerySet]) -> None:
        self.build = build
        self._statements: dict[tuple[str, str], _Statement] = {}

    def _statement(self) -> _Statement:
        key = (connection.alias, connection.vendor)
        statement = self._statements.get(key)
        if statement is None:
            sql, params = capture(self.build(STAND_IN_ID).using(connection.alias))
            id_at = tuple(i for i, p in enumerate(params) if type(p) is int and p == STAND_IN_ID)
            if not id_at:
                raise RuntimeError(f"the statement does not take the id as a parameter: {sql}")
            statement = self._statements.setdefault(key, _Statement(sql, params, id_at))
        return statement

    def rows(self, id_value: int) -> list[tuple]:
        statement = self._statement()
        params = list(statement.params)
        for at in statement.id_at:
            params[at] = id_value
        with connection.cursor() as cursor:
            cursor.execute(statement.sql, params)
            return cursor.fetchall()
