"""Deployments from ``prefect.yaml``: what ``runbook up`` serves and what ``prefect deploy`` registers.

One file declares every deployment (entrypoints, parameters, schedules, triggers); ``runbook up``
reads it and builds runner deployments from the project's ``flows`` folder, so a served
deployment and a deployed one are the same thing.

Where the flows are: the repository's ``flows/`` and ``tasks/`` folders, found in the working
directory (a checkout: where Prefect resolves ``flows/shadow.py:shadow`` too), else the copy
installed with the package as ``runbook._project.flows`` / ``runbook._project.tasks`` (never as
top-level ``flows`` / ``tasks``, names other distributions use). That folder is put on the import
path of this process and its children (a served run's subprocess), so the flows import each other
and their tasks as ``flows.*`` and ``tasks.*`` either way.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook.errors import BadParameter

__all__ = [
    "DeploymentSpec", "build_deployments", "find_project_file", "load_flow", "project_root", "read_specs",
]

PROJECT_FILE = "prefect.yaml"
# The installed copy of the repository's flows/ folder (see pyproject.toml / setup.py).
INSTALLED_FLOWS = "runbook._project.flows"


@dataclass(frozen=True, slots=True)
class DeploymentSpec:
    """One ``deployments:`` entry of prefect.yaml."""

    name: str
    entrypoint: str
    description: str = ""
    tags: tuple[str, ...] = ()
    parameters: dict[str, Any] = field(default_factory=dict)
    schedules: tuple[dict[str, Any], ...] = ()
    triggers: tuple[dict[str, Any], ...] = ()

    @property
    def module_and_attribute(self) -> tuple[str, str]:
        """``flows/shadow.py:shadow`` as (``flows.shadow``, ``shadow``)."""
        return _module_and_attribute(self.entrypoint, owner=f"deployment {self.name!r}: ")


def load_flow(entrypoint: str) -> Any:
    """The flow object named by ``entrypoint`` (``flows/shadow.py:shadow``), imported by module path.

    The library names flows by entrypoint, as prefect.yaml does, and never imports them itself.
    """
    module, attribute = _module_and_attribute(entrypoint)
    _on_import_path(project_root())
    return getattr(importlib.import_module(module), attribute)


def project_root(start: Path | None = None) -> Path:
    """The folder holding ``flows/`` and ``tasks/``: ``start`` (default: the working directory) when
    it holds them, else the copy installed with the package. BadParameter when there is neither."""
    here = start or Path.cwd()
    if (here / "flows").is_dir() and (here / "tasks").is_dir():
        return here
    try:
        spec = importlib.util.find_spec(INSTALLED_FLOWS)
    except ModuleNotFoundError:
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise BadParameter(f"no flows/ and tasks/ folders in {here} and none installed with runbook")
    return Path(next(iter(spec.submodule_search_locations))).resolve().parent


def _on_import_path(root: Path) -> None:
    """``root`` first on this process's import path and on its children's (PYTHONPATH)."""
    entry = str(root)
    if entry not in sys.path:
        sys.path.insert(0, entry)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if entry not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([entry, *paths])


def _module_and_attribute(entrypoint: str, *, owner: str = "") -> tuple[str, str]:
    path, sep, attribute = entrypoint.partition(":")
    if not sep or not path.endswith(".py"):
        raise BadParameter(f"{owner}entrypoint {entrypoint!r} is not 'path.py:flow'")
    return path.removesuffix(".py").replace("/", "."), attribute


def find_project_file(start: Path | None = None) -> Path:
    """prefect.yaml in ``start`` (default: the working directory), else beside the flows folder."""
    candidates = [(start or Path.cwd()) / PROJECT_FILE]
    candidates.append(project_root(start) / PROJECT_FILE)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise BadParameter(f"no {PROJECT_FILE} in {', '.join(str(c.parent) for c in candidates)}")


def read_specs(path: Path) -> list[DeploymentSpec]:
    """The deployments declared in ``path``."""
    import yaml

    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    entries = document.get("deployments") or []
    if not entries:
        raise BadParameter(f"{path} declares no deployments")
    return [
        DeploymentSpec(
            name=entry["name"], entrypoint=entry["entrypoint"], description=entry.get("description", ""),
            tags=tuple(entry.get("tags") or ()), parameters=dict(entry.get("parameters") or {}),
            schedules=tuple(entry.get("schedules") or ()), triggers=tuple(entry.get("triggers") or ()),
        )
        for entry in entries
    ]


def build_deployments(specs: list[DeploymentSpec]) -> list[Any]:
    """Runner deployments (``flow.to_deployment``) for ``specs``, flows imported by module path."""
    from prefect.deployments.runner import EntrypointType

    deployments = []
    for spec in specs:
        flow = load_flow(spec.entrypoint)
        deployments.append(flow.to_deployment(
            name=spec.name, description=spec.description, tags=list(spec.tags), parameters=spec.parameters,
            schedules=[_schedule(s) for s in spec.schedules], triggers=[_trigger(t) for t in spec.triggers],
            entrypoint_type=EntrypointType.MODULE_PATH,
        ))
    return deployments


def _schedule(entry: dict[str, Any]) -> Any:
    from prefect.schedules import Cron, Interval

    active = bool(entry.get("active", True))
    if "cron" in entry:
        return Cron(entry["cron"], timezone=entry.get("timezone"), active=active)
    if "interval" in entry:
        return Interval(float(entry["interval"]), timezone=entry.get("timezone"), active=active)
    raise BadParameter(f"schedule {entry!r} has neither 'cron' nor 'interval'")


def _trigger(entry: dict[str, Any]) -> Any:
    from prefect.events.schemas.deployment_triggers import DeploymentTriggerTypes
    from pydantic import TypeAdapter

    return TypeAdapter(DeploymentTriggerTypes).validate_python(entry)
