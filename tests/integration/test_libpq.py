"""The libpq client of the fast rollback against a real PostgreSQL: values as psycopg gives them,
parameters as psycopg sends them, and outages told apart from bugs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import psycopg
import pytest
from sqlalchemy.engine import make_url

from runbook.control._libpq import PqConnection, PqError, conninfo, load

pytestmark = pytest.mark.postgres

# One column of each type the rollback reads or might: bool, int2/4/8, float4/8, numeric, text,
# varchar, timestamp, timestamptz, a NULL, and a type left as text (regclass).
TYPED = """
SELECT true, false, 7::int2, -8::int4, 9000000000::int8, 1.5::float4, 0.1::float8, 'Infinity'::float8,
       12.340::numeric, 'é ''x'''::text, 'var'::varchar(16), '2026-12-03 08:47:07.5'::timestamp,
       '2026-12-03 08:47:07.123456+02'::timestamptz, NULL::int4, to_regclass('pg_class')
"""


@pytest.fixture
def kwargs(postgres_url: str) -> dict[str, object]:
    url = make_url(postgres_url)
    return {"host": url.host, "port": url.port, "user": url.username, "dbname": url.database}


@pytest.fixture
def pq(kwargs: dict[str, object]) -> Iterator[PqConnection]:
    lib = load()
    assert lib is not None, "libpq is installed here (libpq5)"
    conn = PqConnection(lib, conninfo(**kwargs, options="-c DateStyle=ISO", client_encoding="UTF8"))
    yield conn
    conn.close()


def test_rows_come_back_as_psycopg_returns_them(pq: PqConnection, kwargs: dict[str, object]) -> None:
    with psycopg.connect(**kwargs) as conn:  # type: ignore[arg-type]
        expected = conn.execute(TYPED).fetchall()
    rows, count = pq.execute(TYPED)
    assert rows == expected
    assert [type(v) for v in rows[0]] == [type(v) for v in expected[0]]
    assert rows[0][8] == Decimal("12.340")
    assert rows[0][12] == datetime(2026, 12, 3, 6, 47, 7, 123456, tzinfo=UTC)
    assert count == 1


def test_parameters_are_stored_as_psycopg_stores_them(pq: PqConnection, kwargs: dict[str, object]) -> None:
    """The same values through both clients into the rollback's column types read back equal."""
    pq.execute("CREATE TEMP TABLE t (b boolean, i integer, f double precision, s varchar(16), "
               "x text, at timestamptz)")  # fmt: skip
    at = datetime(2026, 12, 3, 8, 47, 7, 123456, tzinfo=timezone(timedelta(hours=-5)))
    values = [(True, 3, 0.1, "it's", "a\\b ?", at), (None, None, None, None, None, None)]
    for row in values:
        assert pq.execute("INSERT INTO t VALUES ($1, $2, $3, $4, $5, $6)", row)[1] == 1
    mine = pq.execute("SELECT * FROM t")[0]
    with psycopg.connect(**kwargs) as conn:  # type: ignore[arg-type]
        conn.execute("CREATE TEMP TABLE t (b boolean, i integer, f double precision, s varchar(16), "
                     "x text, at timestamptz)")  # fmt: skip
        for row in values:
            conn.execute("INSERT INTO t VALUES (%s, %s, %s, %s, %s, %s)", row)
        theirs = conn.execute("SELECT * FROM t").fetchall()
    assert mine == theirs == values


def test_an_error_in_the_sql_is_not_an_outage(pq: PqConnection) -> None:
    """Bugs and conflicts (division by zero, unknown table, NUL in text) are not told as outages."""
    failing = [("SELECT 1 / $1::int", (0,), "22012"), ("SELECT * FROM nowhere", (), "42P01"),
               ("SELECT $1::text", ("a\x00b",), "22021")]  # fmt: skip
    for sql, params, sqlstate in failing:
        with pytest.raises(PqError, match=rf"\(SQLSTATE {sqlstate}\)$") as failed:
            pq.execute(sql, params)
        assert not failed.value.outage


def test_a_cancelled_statement_and_a_failed_connect_are_outages(
    pq: PqConnection, kwargs: dict[str, object]
) -> None:
    pq.execute("SET statement_timeout = 50")
    with pytest.raises(PqError, match="statement timeout") as failed:
        pq.execute("SELECT pg_sleep(5)")
    assert failed.value.outage
    lib = load()
    assert lib is not None
    with pytest.raises(PqError, match=r"password authentication failed|does not exist") as refused:
        PqConnection(lib, conninfo(**{**kwargs, "user": "no such 'user'"}))
    assert refused.value.outage
