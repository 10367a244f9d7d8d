"""Artifacts in the Prefect UI: validation summary, canary health per step, the runbook log, progress.

Keys are per component and phase so the UI shows the history of each. Failing to write an
artifact is logged and never fails a phase.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from uuid import UUID

from runbook.reports.markdown import format_value

__all__ = ["artifact_key", "progress_reporter", "publish_markdown", "publish_table"]

log = logging.getLogger(__name__)


def artifact_key(*parts: str) -> str:
    """A Prefect artifact key (lowercase letters, digits, dashes) from ``parts``."""
    return "-".join(re.sub(r"[^a-z0-9]+", "-", part.lower()).strip("-") for part in parts if part)


def publish_table(key: str, rows: Sequence[Mapping[str, Any]], *, description: str) -> None:
    """A table artifact, one row per mapping, values rendered readably."""
    from prefect.artifacts import create_table_artifact

    table = [{column: format_value(value) for column, value in row.items()} for row in rows]
    _safely(lambda: create_table_artifact(table=table, key=key, description=description), key)


def publish_markdown(key: str, markdown: str, *, description: str) -> None:
    """A markdown artifact."""
    from prefect.artifacts import create_markdown_artifact

    _safely(lambda: create_markdown_artifact(markdown=markdown, key=key, description=description), key)


# Share of a validation's run time per stage, in the validator's order (0..1 each, summing to 1).
STAGES = (
    ("historical scenarios", 0.15), ("monte carlo scenarios", 0.55), ("statistics", 0.10),
    ("backtests", 0.10), ("performance", 0.10),
)


def stage_progress(stage: str, done: float, total: float) -> float:
    """Overall progress (0..1) of a validation that reports ``done`` of ``total`` in ``stage``."""
    start = 0.0
    for name, share in STAGES:
        if name == stage:
            return start + share * (min(max(done / total, 0.0), 1.0) if total > 0 else 1.0)
        start += share
    return start


def progress_reporter(key: str, *, description: str) -> Callable[[str, float, float], None]:
    """A ``report(stage, done, total)`` callback keeping one progress artifact up to date.

    Updates at most once per whole percent, so a validation calling it per chunk stays cheap.
    """
    from prefect.artifacts import create_progress_artifact, update_progress_artifact

    artifact_id: list[UUID | None] = [None]
    last = [-1]

    def report(stage: str, done: float, total: float) -> None:
        percent = int(stage_progress(stage, done, total) * 100)
        if percent == last[0]:
            return
        last[0] = percent
        current = artifact_id[0]
        if current is None:
            artifact_id[0] = _safely(
                lambda: create_progress_artifact(float(percent), key=key, description=description), key
            )
        else:
            _safely(lambda: update_progress_artifact(current, float(percent)), key)

    return report


def _safely(call: Callable[[], Any], key: str) -> Any:
    try:
        return call()
    except Exception:  # the UI missing an artifact is better than a phase failing for it
        log.exception("could not write artifact %s", key)
        return None
