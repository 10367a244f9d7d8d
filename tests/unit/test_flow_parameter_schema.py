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
