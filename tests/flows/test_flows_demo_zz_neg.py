import pytest
import runbook.orchestration.demo_output as d
from tests.flows.test_flows_demo_stops import home, test_a_gate_rejected_at_the_console_stops_the_demo_quietly as t  # noqa

def test_neg(home, capfd, caplog, monkeypatch):
    monkeypatch.setattr(d, "STOP_ERRORS", ())
    with pytest.raises(AssertionError) as info:
        t(home, capfd, caplog, monkeypatch)
    print("FAILED AS EXPECTED:", str(info.value)[:200])
