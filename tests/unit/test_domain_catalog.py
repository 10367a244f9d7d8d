"""The catalog (runbook.toml): parsing, clear errors, discovery, and safe result checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.domain.catalog import Kind, Tier, bundled_catalog, current_catalog, discover_path, use_catalog
from runbook.domain.catalog_toml import load_catalog
from runbook.domain.components import Component, ComponentName, is_critical, parse_component
from runbook.domain.plans import default_steps, ordered_components
from runbook.domain.result_check import ResultCheck
from runbook.errors import BadParameter, UnknownComponent

PNL = """
[components.pnl_service]
tier = "standard"
kind = "generic"
legacy = "firm.pnl:old"
candidate = "firm.pnl:new"
check = "pnl == pnl and exposure >= 0"
steps = [10, 50, 100]
fields = { pnl = { rel = 1e-6, abs = 0.5 } }
thresholds = { max_latency_ratio = 1.3 }
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "runbook.toml"
    path.write_text(text)
    return path


def test_bundled_catalog_is_the_adr_five_in_order():
    """Without a catalog file the components are the ADR's five, the last two critical."""
    catalog = bundled_catalog()
    assert catalog.names == tuple(c.value for c in Component)
    assert [catalog.entry(n).critical for n in catalog.names] == [False, False, False, True, True]


def test_a_firm_catalog_adds_its_components_after_the_five(tmp_path):
    """A declared component is read with its tier, kind, tolerances, check, steps and thresholds."""
    catalog = load_catalog(write(tmp_path, PNL))
    entry = catalog.entry("pnl_service")
    assert catalog.names[-1] == "pnl_service"
    assert len(catalog.names) == 6
    assert (entry.tier, entry.kind) == (Tier.STANDARD, Kind.GENERIC)
    assert entry.tolerance("pnl").abs == 0.5
    assert entry.tolerance("pnl").rel == 1e-6
    assert entry.tolerance("other").rel == 1e-5
    assert entry.steps == (10.0, 50.0, 100.0)
    assert entry.thresholds == {"max_latency_ratio": 1.3}


def test_bundled_false_keeps_only_the_firm_components(tmp_path):
    """``bundled = false`` drops the ADR's five."""
    catalog = load_catalog(write(tmp_path, "bundled = false\n" + PNL))
    assert catalog.names == ("pnl_service",)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (PNL.replace('"standard"', '"urgent"'), "tier 'urgent' is not one of: critical, standard"),
        (PNL.replace('kind = "generic"', 'kind = "pricing"'), "kind 'pricing' is not one of"),
        (PNL.replace('"firm.pnl:old"', '"firm.pnl.old"'), "must look like 'package.module:attribute'"),
        (PNL + 'colour = "red"\n', "unknown key(s) colour"),
        (PNL.replace("[10, 50, 100]", "[50, 10]"), "steps [50, 10] must be increasing"),
        (PNL.replace("pnl == pnl", "__import__('os').system('x') == 0"), "is not allowed"),
        (PNL.replace("max_latency_ratio", "max_latency"), "unknown key(s) max_latency"),
        ("[components.pnl-service]\nlegacy='a:b'\ncandidate='a:c'\n", "must be an identifier"),
        ("[components.x\n", "is not valid TOML"),
    ],
)
def test_catalog_mistakes_are_one_clear_line(tmp_path, text, needle):
    """Each mistake raises BadParameter naming the value and what is allowed."""
    with pytest.raises(BadParameter) as caught:
        load_catalog(write(tmp_path, text))
    assert needle in str(caught.value)


def test_unknown_component_names_the_known_ones(tmp_path):
    """A name not in the catalog is refused, naming every known component."""
    with use_catalog(write(tmp_path, PNL)), pytest.raises(UnknownComponent) as caught:
        parse_component("pnl_servic")
    assert "pnl_service" in str(caught.value)
    assert "var_engine" in str(caught.value)


def test_catalog_component_is_a_name_with_value_tier_and_steps(tmp_path):
    """A catalog component parses to a ComponentName; tier and steps come from the catalog."""
    with use_catalog(write(tmp_path, PNL.replace('"standard"', '"critical"'))):
        name = parse_component("pnl_service")
        assert isinstance(name, ComponentName)
        assert name.value == "pnl_service"
        assert is_critical(name)
        assert default_steps(name) == (10.0, 50.0, 100.0)
        assert ordered_components(["pnl_service", "var_engine"]) == ["var_engine", "pnl_service"]


def test_discovery_prefers_the_environment_then_the_working_directory(tmp_path):
    """RUNBOOK_CATALOG wins; else ./runbook.toml; else none (bundled)."""
    local = write(tmp_path, PNL)
    other = tmp_path / "elsewhere.toml"
    other.write_text(PNL)
    assert discover_path(tmp_path, {}) == local
    assert discover_path(tmp_path, {"RUNBOOK_CATALOG": str(other)}) == other
    assert discover_path(tmp_path / "nothing-here", {}) is None
    with pytest.raises(BadParameter, match="RUNBOOK_CATALOG"):
        discover_path(tmp_path, {"RUNBOOK_CATALOG": str(tmp_path / "missing.toml")})


def test_current_catalog_follows_the_environment(tmp_path, monkeypatch):
    """The process's catalog is the file RUNBOOK_CATALOG names, reloaded when it changes."""
    path = write(tmp_path, PNL)
    monkeypatch.setenv("RUNBOOK_CATALOG", str(path))
    assert "pnl_service" in current_catalog().names
    monkeypatch.delenv("RUNBOOK_CATALOG")
    monkeypatch.chdir(tmp_path / "..")
    assert "pnl_service" not in current_catalog().names


@pytest.mark.parametrize(
    ("text", "fields", "passes"),
    [
        ("var >= 0 and es >= var", {"var": 1.0, "es": 2.0}, True),
        ("var >= 0 and es >= var", {"var": 1.0, "es": 0.5}, False),
        ("0 <= ratio <= 1", {"ratio": 1.5}, False),
        ("not (pnl < -1e6) or flag == 1", {"pnl": -2e6, "flag": 1.0}, True),
        ("var >= 0", {"var": float("nan")}, False),
        ("greeks.delta > -1", {"greeks.delta": -0.5}, True),
    ],
)
def test_result_checks_evaluate_without_eval(text, fields, passes):
    """Comparisons, and/or/not, chains and dotted names evaluate; NaN never passes."""
    assert (ResultCheck.parse(text).failure(fields) is None) is passes


def test_result_check_reads_objects_and_names_missing_fields():
    """A check reads mappings or attributes; a missing field is a named failure."""
    check = ResultCheck.parse("var >= 0 and es >= var")

    class Result:
        var, es = 1.0, 3.0

    assert check.result_failure(Result()) is None
    assert check.result_failure({"var": -1.0, "es": 0.0}) == "result fails check 'var >= 0 and es >= var'"
    assert "has no field es" in str(check.result_failure({"var": 1.0}))
