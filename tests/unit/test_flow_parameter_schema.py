"""The flows' parameter schema (what the Prefect UI's forms and the API validate) carries the ranges
and human titles, so an out-of-range value is refused by the form itself."""

from __future__ import annotations

import jsonschema
import pytest
from prefect.utilities.callables import parameter_schema

from flows.canary import canary


def _validator() -> jsonschema.Draft202012Validator:
    schema = parameter_schema(canary).model_dump_for_openapi()
    return jsonschema.Draft202012Validator(schema)


def _form(**options: dict) -> dict:
    return {"component": "market_data_provider", "initiator": "carol", **options}


@pytest.mark.parametrize(("group", "field", "value"), [
    ("observation", "window_s", 0), ("observation", "rate_per_s", -5), ("observation", "max_extensions", 99),
    ("thresholds", "max_error_rate", 5), ("thresholds", "confidence", 0.2), ("gate", "poll_interval_s", 0),
])
def test_out_of_range_values_are_refused_by_the_schema(group: str, field: str, value: float) -> None:
    """window_s=0, a negative rate, max_error_rate=5 and the like fail the form's validation."""
    assert list(_validator().iter_errors(_form(**{group: {field: value}})))


def test_the_defaults_pass_and_titles_read_as_words() -> None:
    """The ADR defaults validate; fields have human titles, not the field name title-cased."""
    assert list(_validator().iter_errors(_form())) == []
    schema = parameter_schema(canary).model_dump_for_openapi()
    observation = schema["definitions"]["ObservationOptions"]["properties"]
    assert observation["window_s"]["title"] == "Observation window (s)"


STANDARD = ["market_data_provider", "performance_analyzer", "correlation_analyzer"]
CRITICAL = ["var_engine", "hedge_calculator"]


def _schema(flow_fn: object) -> dict:
    return parameter_schema(flow_fn).model_dump_for_openapi()


def test_canary_and_critical_forms_offer_only_their_tiers_components() -> None:
    """The canary form's choices are the standard tier's components, the critical form's the critical
    ones; shadow offers all five; a component of the other tier fails the form's validation."""
    from flows.critical import critical
    from flows.shadow import shadow

    assert _schema(canary)["properties"]["component"]["enum"] == STANDARD
    assert _schema(critical)["properties"]["component"]["enum"] == CRITICAL
    assert _schema(shadow)["properties"]["component"]["enum"] == [*STANDARD, *CRITICAL]
    assert list(_validator().iter_errors(_form(component="var_engine")))
    critical_form = jsonschema.Draft202012Validator(_schema(critical))
    assert list(critical_form.iter_errors({"component": "market_data_provider", "initiator": "carol"}))
    assert list(critical_form.iter_errors({"component": "hedge_calculator", "initiator": "carol"})) == []


def test_canary_form_starts_from_the_adr_steps() -> None:
    """The canary form's steps start at the ADR's 5, 25, 50, 100 (what every standard component takes);
    critical components differ (5, 25, 100 and 10, 50), so each takes its own when left empty."""
    from flows.critical import critical

    assert _schema(canary)["properties"]["steps"]["default"] == [5.0, 25.0, 50.0, 100.0]
    steps = _schema(critical)["properties"]["steps"]
    assert steps["default"] is None
    assert "var_engine 5, 25, 100; hedge_calculator 10, 50" in steps["description"]


@pytest.mark.parametrize("name", ["shadow", "canary", "critical", "cleanup", "migrate"])
def test_production_forms_hide_fault_injection_and_the_start_ticket(name: str) -> None:
    """``inject_fault`` (demos and drills) and ``start_ticket`` (set by the runbook) are no fields of
    the forms; every field the form shows has a human title, not its parameter name."""
    import importlib

    flow_fn = getattr(importlib.import_module(f"flows.{name}"), name)
    properties = _schema(flow_fn)["properties"]
    assert "inject_fault" not in properties
    assert "start_ticket" not in properties
    assert "component" in properties
    untitled = [key for key, value in properties.items() if value.get("title") in (key, None)]
    assert untitled == []
    assert properties["component"]["title"].startswith("Component")
