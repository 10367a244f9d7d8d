"""PostgreSQL through libpq, the official C client, over ``ctypes``: what ``fast_rollback`` needs.

``import psycopg`` alone costs more than a rollback's round trips, so the rollback talks to libpq
directly: one blocking connection, ``PQexecParams`` with text parameters and text results, values
converted as psycopg converts them for the columns the rollback reads and writes. ``load()`` returns
None when no libpq loads (the caller then uses psycopg). Errors are ``PqError``; ``outage`` is True
where psycopg would raise ``OperationalError``, ``InterfaceError`` or a bare ``DatabaseError``.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

__all__ = ["PqConnection", "PqError", "conninfo", "load"]

_CONNECTION_OK = 0
_PGRES_COMMAND_OK, _PGRES_TUPLES_OK = 1, 2
_PG_DIAG_SQLSTATE = ord("C")
# SQLSTATE classes psycopg raises as neither OperationalError nor a bare DatabaseError: a bug or a
# conflict (syntax, integrity, data, transaction state), never an outage.
_NOT_OUTAGE = ("0A", "10", "20", "21", "22", "23", "24", "25", "26", "2B", "2D", "34", "3D", "3F", "42",
               "44", "P", "X")  # fmt: skip


class PqError(Exception):
    """A libpq failure: the server's message (with its SQLSTATE, when it sent one)."""

    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message if sqlstate is None else f"{message} (SQLSTATE {sqlstate})")
        self.sqlstate = sqlstate
        self.outage = sqlstate is None or not sqlstate.startswith(_NOT_OUTAGE)


_lib: ctypes.CDLL | None = None


def load() -> ctypes.CDLL | None:
    """The system libpq, else the one psycopg_binary ships; None when neither loads."""
    global _lib
    if _lib is None:
        for candidate in ("libpq.so.5", *_bundled()):
            try:
                _lib = _declare(ctypes.CDLL(candidate))
                break
            except (OSError, AttributeError):
                continue
    return _lib


def _bundled() -> list[str]:
    found = []
    for entry in sys.path:
        folder = os.path.join(entry or ".", "psycopg_binary.libs")
        if os.path.isdir(folder):
            found += sorted(os.path.join(folder, n) for n in os.listdir(folder) if n.startswith("libpq-"))
    return found


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    p, s, i, u = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint
    signatures: dict[str, tuple[list[Any], Any]] = {
        "PQconnectdb": ([s], p),
        "PQstatus": ([p], i),
        "PQerrorMessage": ([p], s),
        "PQsocket": ([p], i),
        "PQfinish": ([p], None),
        "PQexecParams": (
            [p, s, i, ctypes.POINTER(u), ctypes.POINTER(s), ctypes.POINTER(i), ctypes.POINTER(i), i],
            p,
        ),
        "PQresultStatus": ([p], i),
        "PQresultErrorMessage": ([p], s),
        "PQresultErrorField": ([p, i], s),
        "PQntuples": ([p], i),
        "PQnfields": ([p], i),
        "PQftype": ([p, i], u),
        "PQgetisnull": ([p, i, i], i),
        "PQgetvalue": ([p, i, i], s),
        "PQcmdTuples": ([p], s),
        "PQclear": ([p], None),
    }
    for name, (argtypes, restype) in signatures.items():
        function = getattr(lib, name)
        function.argtypes, function.restype = argtypes, restype
    return lib


def conninfo(**values: object) -> str:
    """A libpq connection string: each value single-quoted, quotes and backslashes escaped."""
    quoted = (str(v).replace("\\", "\\\\").replace("'", "\\'") for v in values.values())
    return " ".join(f"{k}='{v}'" for k, v in zip(values, quoted, strict=True))


def _text(value: object) -> bytes | None:
    """A parameter in PostgreSQL's text input form, as psycopg would send it."""
    if value is None:
        return None
    if isinstance(value, bool):
        return b"t" if value else b"f"
    if isinstance(value, int | float):
        return repr(value).encode()  # "inf", "nan" and exponents are valid float8/numeric input
    if isinstance(value, datetime):
        return value.isoformat(sep=" ").encode()
    if isinstance(value, str):
        if "\x00" in value:
            raise PqError("PostgreSQL text fields cannot contain NUL (0x00) bytes", "22021")
        return value.encode()
    raise TypeError(f"cannot send {type(value).__name__} to PostgreSQL")


def _numeric(text: str) -> object:
    from decimal import Decimal

    return Decimal(text)


# Text results by type OID, as psycopg loads them; any other type stays text, as psycopg leaves it.
_LOADERS: dict[int, Callable[[str], object]] = {
    16: lambda t: t == "t",
    20: int, 21: int, 23: int,
    700: float, 701: float,
    1700: _numeric,
    1114: datetime.fromisoformat, 1184: datetime.fromisoformat,  # DateStyle ISO (set on connect)
}  # fmt: skip


class PqConnection:
    """One blocking libpq connection; ``execute`` runs a statement with ``$1..$n`` parameters."""

    def __init__(self, lib: ctypes.CDLL, info: str) -> None:
        self._lib = lib
        self._conn = lib.PQconnectdb(info.encode())
        if not self._conn:
            raise PqError("out of memory while connecting")
        if lib.PQstatus(self._conn) != _CONNECTION_OK:
            message = self._message()
            self.close()
            raise PqError(message)

    @property
    def socket(self) -> int:
        return int(self._lib.PQsocket(self._conn))

    def execute(self, sql: str, params: Sequence[object] = ()) -> tuple[list[tuple[Any, ...]], int]:
        """(rows, rows affected) of one statement; PqError when it fails."""
        lib, n = self._lib, len(params)
        values = (ctypes.c_char_p * n)(*(_text(v) for v in params))
        result = lib.PQexecParams(self._conn, sql.encode(), n, None, values, None, None, 0)
        if not result:
            raise PqError(self._message())
        try:
            status = lib.PQresultStatus(result)
            if status not in (_PGRES_COMMAND_OK, _PGRES_TUPLES_OK):
                sqlstate = lib.PQresultErrorField(result, _PG_DIAG_SQLSTATE)
                message = (lib.PQresultErrorMessage(result) or b"").decode(errors="replace")
                raise PqError(" ".join(message.split()) or self._message(), sqlstate and sqlstate.decode())
            return self._rows(result), int(lib.PQcmdTuples(result) or 0)
        finally:
            lib.PQclear(result)

    def _rows(self, result: int) -> list[tuple[Any, ...]]:
        lib = self._lib
        fields = range(lib.PQnfields(result))
        loaders = [_LOADERS.get(lib.PQftype(result, f), str) for f in fields]
        rows = []
        for r in range(lib.PQntuples(result)):
            rows.append(tuple(
                None if lib.PQgetisnull(result, r, f) else loaders[f](lib.PQgetvalue(result, r, f).decode())
                for f in fields
            ))  # fmt: skip
        return rows

    def _message(self) -> str:
        return " ".join((self._lib.PQerrorMessage(self._conn) or b"").decode(errors="replace").split())

    def close(self) -> None:
        if self._conn:
            self._lib.PQfinish(self._conn)
            self._conn = None
