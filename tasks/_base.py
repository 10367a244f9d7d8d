"""How every runbook task is declared: no result caching (each call acts on live state)."""

from __future__ import annotations

from functools import partial

from prefect import task
from prefect.cache_policies import NO_CACHE

# Tasks act on the live store and engines: a cached result would skip a real action.
runbook_task = partial(task, cache_policy=NO_CACHE, persist_result=False)
