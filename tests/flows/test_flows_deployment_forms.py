"""The forms' rules hold on the Prefect server too: a deployment refuses a component of the other tier
(naming the allowed ones), and still takes the start ticket the runbook sets, though no form shows it."""

from __future__ import annotations

import pytest
from prefect.deployments import run_deployment
from prefect.exceptions import PrefectHTTPStatusError

from flows.canary import canary

pytestmark = pytest.mark.usefixtures("prefect_server")


@pytest.fixture(scope="module")
def deployment_name() -> str:
    canary.to_deployment(name="forms-canary").apply()
    return "canary/forms-canary"


def test_the_server_refuses_a_critical_component_on_the_canary_deployment(deployment_name: str) -> None:
    """Creating a canary run for var_engine through the API fails the deployment's parameter schema,
    and the refusal names the standard components it allows."""
    with pytest.raises(PrefectHTTPStatusError) as refused:
        run_deployment(deployment_name, timeout=0,
                       parameters={"component": "var_engine", "initiator": "carol"})
    text = str(refused.value)
    assert "'var_engine' is not one of" in text
    assert "market_data_provider" in text


def test_the_start_ticket_reaches_the_run_though_no_form_shows_it(deployment_name: str) -> None:
    """`/runbook` and `runbook start --sign-with` pass ``start_ticket``: the server keeps it."""
    run = run_deployment(deployment_name, timeout=0, parameters={
        "component": "market_data_provider", "initiator": "carol", "start_ticket": "TICKET",
    })
    assert run.parameters["start_ticket"] == "TICKET"
