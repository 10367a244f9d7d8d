"""How every runbook task is declared: no result caching (each call acts on live state)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from prefect import Task, task
from prefect.cache_policies import NO_CACHE

P = ParamSpec("P")
R = TypeVar("R")


def runbook_task(*, name: str, **options: Any) -> Callable[[Callable[P, R]], Task[P, R]]:
    """``@task`` for runbook tasks: named, never cached, results kept in memory only.

    Tasks act on the live store and engines: a cached result would skip a real action.
    """
    return task(name=name, cache_policy=NO_CACHE, persist_result=False, **options)
