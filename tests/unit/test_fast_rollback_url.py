"""The DB-API rollback reads a store URL as the SQLAlchemy store does, and writes by the models' names."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from runbook.control._engine import sqlite_path
from runbook.control._schema import AUDIT_COLUMNS, AUDIT_TABLE, STATE_COLUMNS, STATE_TABLE
from runbook.control.fast_rollback import NotHandled, parse_store_url
from runbook.control.models import AuditRow, ComponentStateRow
from runbook.control.store import normalize_url

POSTGRES = [
    "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "postgresql://u:p%40ss:w@db.example:5433/rb",
    "postgres://svc@db/runbook",
    "postgresql+psycopg:///rb",
    "postgresql+psycopg://u%20x@/rb%2Fy",
]
SQLITE = ["sqlite:////abs/run book.db", "sqlite:///relative/rb.db", "sqlite+pysqlite:////a/b%23c.db"]
NOT_HANDLED = [
    "sqlite://",
    "sqlite:///:memory:",
    "sqlite:///file:rb.db?mode=ro&uri=true",
    "sqlite:///rb.db?timeout=5",
    "sqlite:///~/rb.db",
    "postgresql://u@db/rb?sslmode=require",
    "postgresql://u@[::1]:5432/rb",
    "postgresql+psycopg2://u@db/rb",
    "mysql://u@db/rb",
    "not a url",
]


@pytest.mark.parametrize("url", POSTGRES)
def test_postgres_url_as_sqlalchemy_reads_it(url: str) -> None:
    """Connection keywords and the URL shown in messages equal those of the SQLAlchemy store."""
    normalized = make_url(normalize_url(url))
    target = parse_store_url(url)
    expected = create_engine(normalized).dialect.create_connect_args(normalized)[1]
    expected.pop("context")
    assert (target.backend, target.connect_kwargs) == ("postgresql", expected)
    assert target.display_url == normalized.render_as_string(hide_password=True)
    assert target.sqlite_file is None


@pytest.mark.parametrize("url", SQLITE)
def test_sqlite_url_as_sqlalchemy_reads_it(url: str) -> None:
    """The file and the URL shown equal those of the SQLAlchemy store."""
    target = parse_store_url(url)
    assert target.backend == "sqlite"
    assert target.sqlite_file == sqlite_path(url)
    assert target.display_url == make_url(normalize_url(url)).render_as_string(hide_password=True)
    assert target.sqlite_file is not None
    assert str(target.sqlite_file).endswith(str(Path(make_url(url).database or "")))


@pytest.mark.parametrize("url", NOT_HANDLED)
def test_other_url_forms_are_left_to_the_full_path(url: str) -> None:
    """Any form the DB-API path does not read exactly raises NotHandled."""
    with pytest.raises(NotHandled):
        parse_store_url(url)


def test_the_schema_names_are_the_models_names() -> None:
    """Tables and columns the DB-API rollback writes are the models' (every audit column but id)."""
    state = tuple(c.name for c in ComponentStateRow.__table__.columns)
    assert (ComponentStateRow.__tablename__, state) == (
        STATE_TABLE,
        STATE_COLUMNS,
    )
    audit = [c.name for c in AuditRow.__table__.columns if c.name != "id"]
    assert (AuditRow.__tablename__, tuple(audit)) == (AUDIT_TABLE, AUDIT_COLUMNS)
