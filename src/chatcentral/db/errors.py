"""Whose fault a database error is: the database's (unreachable, shutting down, out of
resources, a schema behind its migrations: try again later) or what was being written
(bad data, a broken constraint: retrying changes nothing)."""

from __future__ import annotations

import psycopg
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# SQLSTATE classes that put the fault on the database, not the item: connection exceptions,
# insufficient resources, operator intervention (shutdown, statement_timeout), system
# errors, and transaction rollbacks (deadlock, serialization), which a retry resolves.
_TROUBLE_CLASSES = ("08", "53", "57", "58", "40")
# Busy locks and objects, and sessions ended by idle or transaction timeouts; and a schema
# that is missing or behind its migrations (a table, column or function not there): the
# operator's to fix with `chatcentral migrate`, so Meta keeps the message until then.
_TROUBLE_STATES = frozenset(
    {"55P03", "55006", "25P03", "25P04", "3F000", "42P01", "42703", "42883"}
)
# SQLSTATE classes that put the fault on the item: data exceptions, integrity violations,
# program limits (e.g. an index entry over its size limit).
_ITEM_CLASSES = ("22", "23", "54")


def database_trouble(exc: BaseException) -> bool | None:
    """True when `exc` is database trouble, False when the item (or the code handling it)
    is at fault, None when only asking the database can tell."""
    if isinstance(exc, PoolTimeout | OSError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    error = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(error, psycopg.Error):
        sqlstate = error.sqlstate
        if sqlstate is None:
            # Raised by the driver, not the server: a connection refused, broken or timed
            # out. Anything else the driver refuses (e.g. NUL in text) is for the probe.
            return (
                True
                if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError)
                else None
            )
        if sqlstate.startswith(_TROUBLE_CLASSES) or sqlstate in _TROUBLE_STATES:
            return True
        if sqlstate.startswith(_ITEM_CLASSES):
            return False
        return None
    if isinstance(exc, SQLAlchemyError):
        return None
    # Not from the database at all: the flow, a payload it could not read, a bug.
    return False
