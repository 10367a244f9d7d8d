"""A catalog ``batch`` (an acceleration a component declares): every request goes through it, and at
least 1,000 requests (all when fewer) also go through the single-request callables routers call; a
defect only there fails ``single_request_path`` naming the request."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from runbook.cli import main

NO_TIMING = "thresholds = { min_latency_excess_us = 1e6 }\n"  # no wall-clock verdicts in tests

ENGINES = '''
import sys


def pnl(x, y):
    return {"pnl": x * y, "exposure": abs(x)}


def pnl_wrong_once(x, y):
    """The single-request path of the new engine, wrong on one request only."""
    result = pnl(x, y)
    if x == 1234:
        result["pnl"] += 1.0
    return result


def pnl_raising_once(x, y):
    if x == 1234:
        raise ArithmeticError("overflow in the single-request path")
    return pnl(x, y)


def pnl_batch(requests):
    return [pnl(**r) for r in requests]


async def pnl_batch_async(requests):
    return [pnl(**r) for r in requests]


def pnl_batch_raises(requests):
    raise RuntimeError("batch kernel failed")


def pnl_batch_exits(requests):
    sys.exit(3)


def pnl_batch_short(requests):
    return pnl_batch(requests)[:-1]
'''


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("RUNBOOK_CATALOG", raising=False)
    (tmp_path / "pnl_engines.py").write_text(textwrap.dedent(ENGINES))
    return tmp_path


def write(here: Path, candidate: str, batch: str, *, count: int = 2_500) -> None:
    (here / "runbook.toml").write_text(textwrap.dedent(f"""
        [components.pnl_service]
        kind = "generic"
        legacy = "pnl_engines:pnl"
        candidate = "pnl_engines:{candidate}"
        batch = {batch}
        requests = "requests.jsonl"
        {NO_TIMING}"""))
    lines = (json.dumps({"x": float(i), "y": 0.5 + i % 7}) + "\n" for i in range(count))
    (here / "requests.jsonl").write_text("".join(lines))


def validate(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    code = main(["validate", "pnl_service", "--json"])
    return code, json.loads(capsys.readouterr().out)


def checks(report: dict) -> dict[str, dict]:
    return {c["name"]: c for c in report["checks"]}


def test_batch_right_single_path_wrong_fails_naming_the_request(here, capsys):
    """The batch agrees on all 2,500; the single-request path, sampled at 1,250, is off on one."""
    write(here, "pnl_wrong_once", '"pnl_engines:pnl_batch"')
    code, report = validate(capsys)
    assert code == 1
    assert report["failed_checks"] == ["single_request_path"]
    single = checks(report)["single_request_path"]
    assert single["detail"] == ("1 of 1250 requests disagree through the single-request callables, what "
                                "routers call; first request requests.jsonl line 1235: pnl legacy 3085.0, "
                                "candidate 3086.0")
    assert single["numbers"]["requests"] == 1250
    assert single["numbers"]["of"] == 2500
    assert checks(report)["tolerance:pnl"]["detail"] == "2500 of 2500 requests within tolerance"
    assert report["summary"]["path"] == ("batch callables (candidate pnl_engines:pnl_batch), single-request "
                                         "callables beside")


def test_batch_and_single_path_right_pass(here, capsys):
    """Legacy and candidate both declare a batch (table form; an async one): PASS, all 300 checked."""
    write(here, "pnl", '{ legacy = "pnl_engines:pnl_batch", candidate = "pnl_engines:pnl_batch_async" }',
          count=300)
    code, report = validate(capsys)
    assert code == 0, report["failed_checks"]
    single = checks(report)["single_request_path"]
    assert single["detail"] == ("300 of 300 requests through both single-request callables agree within "
                                "tolerance (every request went through the batch path)")
    assert checks(report)["latency_per_request"]["numbers"]["limit"] == 1.2


def test_a_single_path_raising_alone_fails_naming_the_request(here, capsys):
    write(here, "pnl_raising_once", '"pnl_engines:pnl_batch"')
    code, report = validate(capsys)
    assert code == 1
    assert report["failed_checks"] == ["single_request_path"]
    assert checks(report)["single_request_path"]["detail"] == (
        "candidate engine 'pnl_engines:pnl_raising_once' raised ArithmeticError: overflow in the "
        "single-request path on request requests.jsonl line 1235 through the single-request callables")


@pytest.mark.parametrize(("batch", "error"), [
    ("pnl_batch_raises", "RuntimeError: batch kernel failed (in the batch call)"),
    ("pnl_batch_exits", "SystemExit (sys.exit(3)) in the batch call"),
    ("pnl_batch_short", "the batch returned 299 results for 300 requests"),
])
def test_a_broken_batch_fails_naming_it(here, capsys, batch, error):
    write(here, "pnl", f'"pnl_engines:{batch}"', count=300)
    code, report = validate(capsys)
    assert code == 1
    assert "engine_errors" in report["failed_checks"]
    assert checks(report)["engine_errors"]["detail"] == (
        f"candidate engine 'pnl_engines:{batch}' raised {error} on request requests.jsonl line 1 "
        f"(300 request(s) raised in one engine only)")
    assert checks(report)["single_request_path"]["passed"]


@pytest.mark.parametrize(("batch", "message"), [
    ("5", "component 'pnl_service': batch 5 must be 'package.module:attribute' (the candidate's) or a table"),
    ('{ new = "pnl_engines:pnl_batch" }', "batch {'new': 'pnl_engines:pnl_batch'} must be"),
    ('"pnl_batch"', "batch.candidate 'pnl_batch' must look like 'package.module:attribute'"),
    ('"pnl_engines:absent"', "candidate batch engine 'pnl_engines:absent' of pnl_service: module "
                             "'pnl_engines' has no attribute 'absent'"),
])
def test_a_bad_batch_entry_exits_2_naming_it(here, capsys, batch, message):
    write(here, "pnl", batch, count=10)
    assert main(["validate", "pnl_service"]) == 2
    assert message in capsys.readouterr().err


def test_an_interrupt_inside_a_batch_is_not_swallowed():
    """Ctrl-C during a batch call stops the validation instead of becoming an engine error."""
    from runbook.engines.callables import wrap_callable
    from runbook.scenarios.requests_file import Request
    from runbook.validation.catalog_batch import run_with_batches

    def single(x):
        return {"value": x}

    def interrupted(requests):
        raise KeyboardInterrupt

    engine = wrap_callable("t:single", single, None)
    batches = {"candidate": wrap_callable("t:batch", interrupted, None)}
    with pytest.raises(KeyboardInterrupt):
        run_with_batches(engine, engine, batches, [Request("r1", {"x": 1.0})])
