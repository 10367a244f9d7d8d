"""Evidence where approvers look: Data Docs and the HTML reports come from the report server over HTTP,
load no asset from another host, and name the run and the data checked."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pandas as pd
import pytest

from runbook.control.safety import ProductionSafetyManager
from runbook.control.store import Store
from runbook.quality import RunNames, run_suite
from runbook.reports.links import evidence_url
from runbook.reports.migration import write_migration_report
from runbook.reports.server import start_report_server
from runbook.scenarios.loader import load_market_history
from runbook.validation import FinancialCalculationValidator


class _Assets(HTMLParser):
    """Every asset a browser would fetch (script, stylesheet, image, frame) and every hyperlink."""

    def __init__(self) -> None:
        super().__init__()
        self.assets: list[str] = []
        self.links: list[str] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("script", "img", "iframe", "source", "video", "audio", "embed") and values.get("src"):
            self.assets.append(str(values["src"]))
        if tag == "link" and values.get("href"):
            self.assets.append(str(values["href"]))
        if tag == "a" and values.get("href"):
            self.links.append(str(values["href"]))
        self._in_style = tag == "style"

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False


def _parsed(text: str) -> _Assets:
    parser = _Assets()
    parser.feed(text)
    return parser


def _remote_assets(text: str) -> list[str]:
    parsed = _parsed(text)
    remote = [a for a in parsed.assets if a.lower().startswith(("http://", "https://", "//"))]
    remote += [s for s in parsed.styles if "url(http" in s.replace(" ", "").lower() or "@import" in s]
    return remote


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A RUNBOOK_HOME holding a validation report, a migration report and two suites' Data Docs."""
    home = tmp_path_factory.mktemp("home")
    report = FinancialCalculationValidator(check_performance=False).validate_component(
        "var_engine", historical=60, monte_carlo=200, seed=1
    )
    report.write(home / "reports" / "var_engine" / "20261203T080000-shadow")
    docs = home / "data_docs"
    run_suite("market_history", load_market_history().frame(), data_docs_dir=docs,
              names=RunNames("shadow of var_engine, run brave-otter", "bundled market history"))
    broken = load_market_history().frame().reset_index()
    broken.loc[5, "spx_close"] = float("nan")
    run_suite("market_history", broken, data_docs_dir=docs,
              names=RunNames("runbook check-data market_history", "broken.csv"))
    store = Store.from_url(f"sqlite:///{home / 'runbook.db'}")
    ProductionSafetyManager(store, actor="alice").enable_shadow_mode(
        "var_engine", reason="phase 1",
        evidence={"report": str(home / "reports/var_engine/20261203T080000-shadow/report.html")},
    )
    write_migration_report(store, home / "reports" / "migration" / "report.html", title="Migration",
                           components=["var_engine"])
    store.dispose()
    return home


@pytest.fixture(scope="module")
def served(home: Path) -> Iterator[str]:
    with start_report_server(home, base_url="http://127.0.0.1:0") as server:
        assert not server.url.endswith(":80")  # port 0: a free port, not the scheme's
        yield server.url


def _get(url: str) -> httpx.Response:
    return httpx.get(url, timeout=10)


def test_data_docs_load_no_remote_asset_and_name_run_and_data(served: str) -> None:
    """The Data Docs index and every run page it links are served over HTTP with no http(s) asset,
    and say which run checked which data with what status (not ``__none__`` / ``None``)."""
    index = _get(f"{served}/data_docs/index.html")
    assert index.status_code == 200
    assert _remote_assets(index.text) == []
    pages = [urljoin(str(index.url), href) for href in _parsed(index.text).links]
    assert len(pages) == 2
    texts = []
    for page in pages:
        response = _get(page)
        assert response.status_code == 200, page
        assert _remote_assets(response.text) == []
        texts.append(response.text)
    passed = next(t for t in texts if "brave-otter" in t)
    failed = next(t for t in texts if "broken.csv" in t)
    assert "bundled market history" in passed
    assert "PASSED" in passed
    assert "FAILED" in failed
    assert "expect_column_values_to_not_be_null" in failed
    assert [re.findall(r">\s*(null|None|__none__)\s*<", t) for t in texts] == [[], []]


def test_reports_load_no_remote_asset(served: str, home: Path) -> None:
    """The validation report and the migration report load nothing from another host, and the
    migration report's link to the validation report opens over HTTP (no file:// link)."""
    base = "http://127.0.0.1:4280"
    report_path = home / "reports/var_engine/20261203T080000-shadow/report.html"
    url = evidence_url(report_path, home=home, base_url=served)
    assert url == f"{served}/reports/var_engine/20261203T080000-shadow/report.html"
    assert evidence_url(report_path, home=home, base_url=base) == (
        "http://127.0.0.1:4280/reports/var_engine/20261203T080000-shadow/report.html"
    )
    validation = _get(url)
    assert validation.status_code == 200
    assert _remote_assets(validation.text) == []
    migration = _get(f"{served}/reports/migration/report.html")
    assert migration.status_code == 200
    assert _remote_assets(migration.text) == []
    links = _parsed(migration.text).links
    assert links
    assert not [link for link in links if link.startswith("file:")]
    assert _get(urljoin(str(migration.url), links[0])).status_code == 200


def test_only_reports_and_data_docs_are_served(served: str, home: Path) -> None:
    """The store, hidden files and folders outside reports/ and data_docs/ answer 404."""
    assert (home / "runbook.db").is_file()
    for path in ("/runbook.db", "/reports/../runbook.db", "/data_docs/%2e%2e/runbook.db", "/reports/",
                 "/etc/passwd"):
        assert _get(f"{served}{path}").status_code == 404, path
    assert evidence_url(home / "runbook.db", home=home, base_url=served) is None
    landing = _get(f"{served}/")
    assert landing.status_code == 200
    assert "report.html" in landing.text


def test_a_pandas_frame_check_is_named_by_default(tmp_path: Path) -> None:
    """Without names, the page still names the suite's run and says it checked a data frame."""
    frame = pd.DataFrame({"date": pd.bdate_range("2020-01-01", periods=600), "spx_close": 100.0,
                          "nasdaq_close": 200.0, "wti_close": 50.0})
    result = run_suite("market_history", frame, data_docs_dir=tmp_path)
    assert result.data_docs is not None
    page = result.data_docs.read_text(encoding="utf-8")
    assert "market_history check" in page
    assert "a data frame" in page


def test_runbook_up_serves_reports_at_the_configured_url(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What `runbook up` starts beside the Prefect server: the report server at RUNBOOK_REPORTS_URL;
    a second `runbook up` finds the address taken, says so and goes on (links still point there)."""
    from runbook._cli.flows import _serve_reports
    from runbook.settings import Settings

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(home=home, reports_url=f"http://127.0.0.1:{port}")
    first = _serve_reports(settings)
    try:
        assert first is not None
        assert first.url == f"http://127.0.0.1:{port}"
        assert _get(f"http://127.0.0.1:{port}/data_docs/index.html").status_code == 200
        assert _serve_reports(settings) is None
        out = capsys.readouterr().out
        assert f"reports and Data Docs at http://127.0.0.1:{port}/" in out
        assert f"reports: http://127.0.0.1:{port} not served by this process" in out
    finally:
        if first is not None:
            first.stop()
