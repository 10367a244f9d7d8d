"""Suite files: where they live, what they must say, and refusals that need no Great Expectations."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runbook._cli.quality import BUNDLED_SUITES
from runbook.domain.components import Component
from runbook.domain.modes import Mode
from runbook.domain.observation import ErrorKind, Route
from runbook.errors import BadSuite
from runbook.quality import SUITES, load_suite, suite_path
from runbook.quality._suite import _parse

REPO = Path(__file__).resolve().parents[2]


def _document(name: str) -> dict:
    return json.loads(suite_path(name).read_text(encoding="utf-8"))


def _value_set(name: str, column: str) -> set[str]:
    (entry,) = [e for e in _document(name)["expectations"]
                if e["type"] == "expect_column_values_to_be_in_set" and e["kwargs"]["column"] == column
                and e.get("severity", "critical") == "critical"]
    return set(entry["kwargs"]["value_set"])


def test_repository_expectations_folder_links_to_the_bundled_suites() -> None:
    """expectations/*.json at the repository root are links to the packaged suites: one copy of each."""
    folder = REPO / "expectations"
    assert sorted(p.stem for p in folder.glob("*.json")) == sorted(SUITES)
    for name in SUITES:
        entry = folder / f"{name}.json"
        assert entry.is_symlink()
        assert entry.resolve() == suite_path(name).resolve()


def test_bundled_suites_ship_inside_the_package() -> None:
    """Bundled names resolve to files inside the runbook.quality package, so an install finds them."""
    import runbook.quality

    package = Path(runbook.quality.__file__).parent
    for name in SUITES:
        path = suite_path(name)
        assert path.parent == package / "suites"
        assert path.is_file()


def test_cli_lists_the_bundled_suites() -> None:
    """The CLI's literal list of suites (kept light for start-up) is SUITES."""
    assert BUNDLED_SUITES == SUITES


@pytest.mark.parametrize("name", SUITES)
def test_suite_file_is_well_formed(name: str) -> None:
    """Each bundled file is named after itself, states its id column, and explains every expectation."""
    document = _document(name)
    suite = _parse(document, suite_path(name))
    assert suite.name == name
    assert suite.id_column in suite.required_columns
    assert all(spec.meta.get("why") for spec in suite.expectations)
    assert any(spec.severity == "warning" for spec in suite.expectations) or name in (
        "engine_outputs", "shadow_comparisons")


def test_value_sets_follow_the_domain() -> None:
    """Components, routes, modes and error kinds in the suites are the domain's enums."""
    components = [c.value for c in Component]
    for name in ("engine_outputs", "shadow_comparisons", "canary_window"):
        [raw] = [e["kwargs"]["value_set"] for e in _document(name)["expectations"]
                 if e["type"] == "expect_column_values_to_be_in_set" and e["kwargs"]["column"] == "component"]
        assert raw == "catalog:components"  # the catalog's components when loaded
        [loaded] = [spec.kwargs["value_set"] for spec in load_suite(name).expectations
                    if spec.kwargs.get("column") == "component" and "value_set" in spec.kwargs]
        assert loaded == components
    for name in ("shadow_comparisons", "canary_window"):
        assert _value_set(name, "error_kind") == {k.value for k in ErrorKind}
        assert _value_set(name, "route") == {r.value for r in Route}
    assert _value_set("engine_outputs", "engine") == {r.value for r in Route}
    assert _value_set("shadow_comparisons", "mode") == {Mode.SHADOW.value}


def test_tolerance_is_the_adrs() -> None:
    """Shadow comparisons use ADR-0011's <0.001% relative tolerance on every compared row (mismatches too)."""
    (entry,) = [e for e in _document("shadow_comparisons")["expectations"]
                if e["kwargs"].get("column") == "rel_difference" and "max_value" in e["kwargs"]]
    assert (entry["kwargs"]["min_value"], entry["kwargs"]["max_value"]) == (-1e-5, 1e-5)
    assert "row_condition" not in entry["kwargs"]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "suite.json"
    path.write_text(text, encoding="utf-8")
    return path


def _valid() -> dict:
    return {"name": "s", "meta": {"runbook": {"id_column": "id"}},
            "expectations": [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}}]}


def _with(**changes: object) -> str:
    document = _valid()
    document.update(changes)
    return json.dumps(document)


def _entry(**changes: object) -> str:
    document = _valid()
    document["expectations"][0].update(changes)
    return json.dumps(document)


@pytest.mark.parametrize(("text", "message"), [
    ('{"name": "s",\n "expectations": [}', r"not valid JSON at line 2 column 19"),
    ("[]", "one JSON object, not list"),
    (_with(name=""), "missing the suite's \"name\""),
    (_with(expectations=[]), "\"expectations\" must be a non-empty list"),
    (_with(meta={}), "meta.runbook.id_column"),
    (_entry(severity="fatal"), "unknown severity 'fatal'; allowed: critical, warning, info"),
    (_entry(sevrity="warning"), "unknown field\\(s\\) sevrity; allowed: description, kwargs"),
    (_entry(kwargs=["id"]), "\"kwargs\" must be an object"),
    (_with(meta={"runbook": {"id_column": "id", "derived_columns": [
        {"name": "r", "op": "pct_change", "column": "p"}]}}),
     "unknown op 'pct_change'; allowed: calendar_gap_days, contracts_residual, log_return"),
], ids=["bad-json", "not-object", "no-name", "no-expectations", "no-id-column", "bad-severity",
        "unknown-field", "kwargs-not-object", "unknown-derivation"])
def test_malformed_suite_file_is_refused(tmp_path: Path, text: str, message: str) -> None:
    """A malformed suite file is a BadSuite naming the file and what is wrong."""
    path = _write(tmp_path, text)
    with pytest.raises(BadSuite, match=message) as caught:
        load_suite(path)
    assert str(path) in str(caught.value)


def test_missing_suite_file_and_unknown_name(tmp_path: Path) -> None:
    """A missing file and a name that is neither bundled nor a .json path are refused."""
    with pytest.raises(BadSuite, match="no such suite file"):
        load_suite(tmp_path / "absent.json")
    with pytest.raises(BadSuite, match="unknown suite 'market'; allowed: market_history, market_prices, "
                                       "scenarios"):
        load_suite("market")


def test_required_columns_cover_conditions_and_derivation_inputs() -> None:
    """The columns a frame must bring include row-condition columns and derivation inputs, not outputs."""
    suite = _parse(_document("engine_outputs"), suite_path("engine_outputs"))
    required = set(suite.required_columns)
    assert {"component", "contracts", "hedge_ratio", "exposure", "contract_size", "es", "var"} <= required
    assert "contracts_residual" not in required


def test_importing_quality_does_not_import_great_expectations() -> None:
    """GX is imported lazily: ``import runbook.quality`` and the CLI module stay light."""
    code = ("import sys, runbook.quality, runbook._cli.quality\n"
            "print('great_expectations' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
