"""StoreSettings (what control commands read) resolves the store URL exactly as Settings does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runbook._cli.control import StoreSettings
from runbook.settings import Settings

CASES = [
    {},
    {"RUNBOOK_HOME": "state/here"},
    {"RUNBOOK_HOME": ""},
    {"RUNBOOK_DATABASE_URL": "postgresql+psycopg://u@db:5432/rb"},
    {"RUNBOOK_DATABASE_URL": "", "RUNBOOK_HOME": "other"},
    {"runbook_database_url": "sqlite:///lower/case.db"},
    {"Runbook_Home": "mixed/case"},
    {"RUNBOOK_HOME": "h", "RUNBOOK_DATABASE_URL": "sqlite:////abs/path.db", "RUNBOOK_ENGINES": "{}"},
]


@pytest.mark.parametrize("environ", CASES)
def test_store_url_matches_settings(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """For each environment, StoreSettings and Settings resolve the same database URL."""
    monkeypatch.chdir(tmp_path)  # relative homes resolve under the test's own folder
    for key in [k for k in os.environ if k.lower().startswith("runbook_")]:
        monkeypatch.delenv(key)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    assert StoreSettings.from_environ().resolved_database_url == Settings().resolved_database_url


def test_reads_the_given_mapping_only() -> None:
    """from_environ(mapping) reads that mapping, not the process environment."""
    settings = StoreSettings.from_environ({"RUNBOOK_DATABASE_URL": "sqlite:///given.db", "OTHER": "x"})
    assert settings.resolved_database_url == "sqlite:///given.db"
    assert settings.home == Path(".runbook")
