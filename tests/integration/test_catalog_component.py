"""A firm's own component, not one of the ADR's five, end to end: catalog, router, CLI, validation
from a requests file, and clear outcomes when its engines misbehave."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from runbook.cli import main
from runbook.runtime import ObservationRecorder, Router, connect

RUNBOOK = Path(sys.executable).with_name("runbook")

ENGINES = '''
"""A P&L service's engines, written without runbook."""
import sys


def old_pnl(trades, marks):
    pnl = 0.0
    exposure = 0.0
    for symbol, quantity, price in trades:
        pnl += quantity * (marks[symbol] - price)
        exposure += abs(quantity * marks[symbol])
    return {"pnl": pnl, "exposure": exposure}


def new_pnl(trades, marks):
    values = [(q * marks[s], q * p) for s, q, p in trades]
    return {"pnl": sum(v for v, _ in values) - sum(c for _, c in values),
            "exposure": sum(abs(v) for v, _ in values)}


def wrong_sign_on_big_books(trades, marks):
    result = new_pnl(trades, marks)
    return {**result, "pnl": -result["pnl"]} if len(trades) > 4 else result


def raises_on_oil(trades, marks):
    if any(symbol == "CL" for symbol, _, _ in trades):
        raise ZeroDivisionError("no oil today")
    return new_pnl(trades, marks)


def exits_on_oil(trades, marks):
    if any(symbol == "CL" for symbol, _, _ in trades):
        sys.exit(0)
    return new_pnl(trades, marks)


async def async_pnl(trades, marks):
    return new_pnl(trades, marks)


def make_pnl():
    return new_pnl
'''

CATALOG = """
[components.pnl_service]
tier = "standard"
kind = "generic"
legacy = "firm_pnl:old_pnl"
candidate = "firm_pnl:{candidate}"
check = "exposure >= 0"
fields = {{ pnl = {{ rel = 1e-9, abs = 1e-6 }}, exposure = {{ rel = 1e-9, abs = 1e-6 }} }}
# No timing in tests: latency only fails past 1 s per call here (a fake timer tests the check).
thresholds = {{ min_latency_excess_us = 1e6 }}
"""


def requests(count: int) -> list[dict[str, object]]:
    symbols = ["ES", "NQ", "CL", "GC", "ZN", "6E"]
    out = []
    for i in range(count):
        held = symbols[: 1 + i % len(symbols)] if i % 7 else ["ES", "NQ"]
        trades = [[s, (j + 1) * (-1) ** (i + j) * 10.0, 100.0 + i + j] for j, s in enumerate(held)]
        marks = {s: 101.5 + i * 0.25 + j for j, s in enumerate(symbols)}
        out.append({"trades": trades, "marks": marks, "routing_key": f"book-{i % 5}"})
    return out


@pytest.fixture
def firm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A firm's folder: its engines module, a catalog naming them, a requests file; cwd is there."""
    (tmp_path / "firm_pnl.py").write_text(textwrap.dedent(ENGINES))
    (tmp_path / "requests.jsonl").write_text("\n".join(json.dumps(r) for r in requests(120)) + "\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("RUNBOOK_DATABASE_URL", f"sqlite:///{tmp_path / 'runbook.db'}")
    monkeypatch.delenv("RUNBOOK_CATALOG", raising=False)

    def use(candidate: str = "new_pnl") -> Path:
        path = tmp_path / "runbook.toml"
        path.write_text(CATALOG.format(candidate=candidate))
        return path

    use()
    return use


def validate_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object]]:
    code = main(["validate", "pnl_service", "--requests", "requests.jsonl", "--json", *args])
    return code, json.loads(capsys.readouterr().out)


def test_router_serves_and_records_a_catalog_component(firm, tmp_path, capsys):
    """Router('pnl_service') works: the CLI puts it in shadow, legacy answers, the candidate is recorded."""
    import firm_pnl

    assert main(["shadow", "pnl_service", "--reason", "phase 1"]) == 0
    assert "pnl_service: legacy -> shadow" in capsys.readouterr().out
    assert main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    modes = {row["component"]: row["mode"] for row in status["components"]}
    assert modes["pnl_service"] == "shadow"
    assert modes["var_engine"] == "legacy"
    store, sink = connect(f"sqlite:///{tmp_path / 'runbook.db'}")
    recorder = ObservationRecorder(sink, flush_interval_s=0.01)
    request = requests(3)[2]
    request.pop("routing_key")
    with Router("pnl_service", legacy=firm_pnl.old_pnl, candidate=firm_pnl.wrong_sign_on_big_books,
                state_source=store, recorder=recorder) as router:  # fmt: skip
        assert router.refresh()
        assert router.call(routing_key="book-1", **request) == firm_pnl.old_pnl(**request)
        assert router.flush()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not sink.window("pnl_service", since=0.0):
        time.sleep(0.01)
    [observation] = sink.window("pnl_service", since=0.0)
    assert observation.component == "pnl_service"
    store.dispose()


def test_validation_from_a_requests_file_passes_and_names_the_engines(firm, capsys):
    """Equal engines pass on every request of the file; the report names both engines and their SHA-256."""
    code, report = validate_json(capsys)
    assert code == 0
    assert report["passed"] is True
    assert report["summary"]["requests"] == 120
    engines = report["engines"]
    assert engines["legacy"]["path"] == "firm_pnl:old_pnl"
    assert engines["candidate"]["path"] == "firm_pnl:new_pnl"
    assert len(engines["candidate"]["sha256"]) == 64
    assert report["data"] is None
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["tolerance:pnl"]["passed"]
    assert checks["result_check"]["passed"]


@pytest.mark.parametrize("candidate", ["async_pnl", "make_pnl"])
def test_async_callables_and_factories_validate(firm, capsys, candidate):
    """An async callable, or a zero-argument factory returning the callable, is validated the same way."""
    firm(candidate)
    code, report = validate_json(capsys)
    assert (code, report["passed"]) == (0, True), report["failed_checks"]


def test_wrong_answers_on_some_requests_fail_naming_the_request(firm, capsys):
    """A candidate wrong only on books of more than four trades fails, naming such a request."""
    firm("wrong_sign_on_big_books")
    code, report = validate_json(capsys)
    assert code == 1
    assert "tolerance:pnl" in report["failed_checks"]
    worst = report["worst_scenarios"][0]
    line = int(worst["scenario_id"].rsplit(" ", 1)[1])
    row = json.loads(Path("requests.jsonl").read_text().splitlines()[line - 1])
    assert len(row["trades"]) > 4


@pytest.mark.parametrize(("candidate", "needle"), [("raises_on_oil", "ZeroDivisionError: no oil today"),
                                                   ("exits_on_oil", "SystemExit")])  # fmt: skip
def test_an_engine_raising_or_exiting_is_a_fail_with_a_report(firm, tmp_path, capsys, candidate, needle):
    """Raising or sys.exit inside the candidate: exit 1, the report written, naming engine and request."""
    firm(candidate)
    out = tmp_path / "out"
    code = main(["validate", "pnl_service", "--requests", "requests.jsonl", "--report", str(out)])
    assert code == 1
    report = json.loads((out / "report.json").read_text())
    [check] = [c for c in report["checks"] if c["name"] == "engine_errors"]
    assert not check["passed"]
    assert f"candidate engine 'firm_pnl:{candidate}'" in check["detail"]
    assert needle in check["detail"]
    assert "requests.jsonl line" in check["detail"]


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([str(RUNBOOK), *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})  # fmt: skip


@pytest.mark.parametrize(
    ("module_text", "needle"),
    [("raise RuntimeError('licence server down')\n", "RuntimeError: licence server down"),
     ("import sys\nsys.exit(0)\n", "called sys.exit(0)"),
     ("def new_pnl(:\n", "SyntaxError")],
)  # fmt: skip
def test_an_engine_that_cannot_be_imported_exits_2_naming_it(firm, tmp_path, module_text, needle):
    """Import failures (raise, sys.exit, syntax error) in the firm's module: exit 2, one line naming it."""
    (tmp_path / "broken_pnl.py").write_text(module_text)
    catalog = CATALOG.format(candidate="x").replace("firm_pnl:x", "broken_pnl:new_pnl")
    (tmp_path / "runbook.toml").write_text(catalog)
    done = run_cli("validate", "pnl_service", "--requests", "requests.jsonl", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "candidate engine 'broken_pnl:new_pnl' of pnl_service" in done.stderr
    assert needle in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "env"),
    [(["validate", "pnl_servic"], {}),
     (["validate", "var_engine"], {"RUNBOOK_ENGINES": '{"var_engin": {"candidate": "x:y"}}'}),
     (["shadow", "pnl_servic"], {})],
)  # fmt: skip
def test_unknown_component_names_exit_2_naming_the_known_ones(firm, tmp_path, args, env):
    """A misspelt component on the command line or in RUNBOOK_ENGINES: exit 2 naming the known ones."""
    done = run_cli(*args, cwd=tmp_path, env=env)
    assert done.returncode == 2, done.stderr
    assert "unknown component" in done.stderr
    assert "pnl_service" in done.stderr
    assert "var_engine" in done.stderr


def test_a_generic_component_without_requests_is_bad_input(firm, capsys):
    """Requests cannot be generated for a generic component: exit 2 saying to give --requests."""
    assert main(["validate", "pnl_service"]) == 2
    assert "--requests FILE" in capsys.readouterr().err


def test_requests_recorded_in_shadow_export_and_validate(firm, tmp_path, capsys):
    """A router sampling shadow requests into the store; ``requests export`` writes them; they validate."""
    import firm_pnl

    from runbook.control.captures import CaptureStore
    from runbook.runtime import RequestCapture

    assert main(["shadow", "pnl_service", "--reason", "record requests"]) == 0
    store, _sink = connect(f"sqlite:///{tmp_path / 'runbook.db'}")
    capture = RequestCapture(CaptureStore(store))
    sent = requests(30)
    with Router("pnl_service", legacy=firm_pnl.old_pnl, candidate=firm_pnl.new_pnl, state_source=store,
                capture=capture, sample_share=1.0) as router:  # fmt: skip
        assert router.refresh()
        for request in sent:
            key = request.pop("routing_key")
            router.call(routing_key=key, **request)
        assert router.flush()
    capture.close()
    store.dispose()
    assert main(["requests", "export", "pnl_service", "--to", str(tmp_path / "recorded.jsonl")]) == 0
    assert "30 request(s) written" in capsys.readouterr().out
    rows = [json.loads(line) for line in (tmp_path / "recorded.jsonl").read_text().splitlines()]
    assert sorted(json.dumps(r["trades"]) for r in rows) == sorted(json.dumps(r["trades"]) for r in sent)
    code = main(["validate", "pnl_service", "--requests", str(tmp_path / "recorded.jsonl"), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert (code, report["summary"]["requests"]) == (0, 30)


def test_export_with_nothing_recorded_says_so(firm, tmp_path, capsys):
    """No recorded request: exit 1, a line saying why, and no file written."""
    assert main(["requests", "export", "pnl_service", "--to", str(tmp_path / "none.jsonl")]) == 1
    assert "no recorded request" in capsys.readouterr().out
    assert not (tmp_path / "none.jsonl").exists()
