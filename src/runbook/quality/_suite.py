"""Suite files: where the bundled ones live, how a file is read, and proof that GX loaded all of it.

A suite file is a Great Expectations 1.x expectation-suite JSON document::

    {"name": "market_history",
     "meta": {"runbook": {"id_column": "date", "description": "...",
                          "derived_columns": [{"name": "spx_log_return", "op": "log_return",
                                               "column": "spx_close"}]}},
     "expectations": [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "date"},
                       "severity": "critical", "meta": {"why": "..."}}]}

Great Expectations drops an expectation whose type it does not know with only a log line; here
every entry is built one by one and the loaded suite is compared with the file, so a misspelled
type is a ``BadSuite`` naming the type, the file and the allowed types.
"""

from __future__ import annotations

import difflib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from runbook.errors import BadInputData, BadSuite
from runbook.quality.frames import DERIVATIONS

__all__ = [
    "SEVERITIES", "SUITES", "DerivedColumn", "ExpectationSpec", "Suite", "for_columns", "load_suite",
    "suite_path",
]

SUITES: tuple[str, ...] = (
    "market_history", "market_prices", "scenarios", "engine_outputs", "shadow_comparisons", "canary_window",
)
# In a template suite (``market_prices``) "{date}" is the date column, and an expectation or derived
# column naming "{column}" is built once per other column of the frame (one price series per asset).
DATE_PLACEHOLDER, COLUMN_PLACEHOLDER = "{date}", "{column}"
SEVERITIES = ("critical", "warning", "info")
CATALOG_COMPONENTS = "catalog:components"  # a value_set naming the catalog's components (runbook.toml)
_ENTRY_KEYS = frozenset({"type", "kwargs", "severity", "meta", "notes", "description"})
_COLUMN_KEYS = ("column", "column_A", "column_B")


@dataclass(frozen=True, slots=True)
class ExpectationSpec:
    """One expectation as written in the file; ``position`` counts from 1 for messages."""

    position: int
    type: str
    kwargs: Mapping[str, Any]
    severity: str
    meta: Mapping[str, Any]

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column the expectation reads, row conditions included, in first-seen order."""
        names = [self.kwargs[key] for key in _COLUMN_KEYS if key in self.kwargs]
        names.extend(self.kwargs.get("column_list", ()))
        names.extend(_condition_columns(self.kwargs.get("row_condition")))
        return tuple(dict.fromkeys(names))

    @property
    def label(self) -> str | None:
        """The checked column(s) as shown in reports: ``es``, ``es, var``; None for table checks."""
        checked = [self.kwargs[key] for key in _COLUMN_KEYS if key in self.kwargs]
        checked.extend(self.kwargs.get("column_list", ()))
        return ", ".join(checked) or None

    def entry(self) -> dict[str, Any]:
        """The entry as Great Expectations' ``ExpectationConfiguration`` takes it.

        The position rides in ``meta`` so each GX result maps back to its line in the file.
        """
        return {"type": self.type, "kwargs": dict(self.kwargs), "severity": self.severity,
                "meta": {**self.meta, "runbook_position": self.position}}


def _condition_columns(condition: object) -> list[str]:
    if isinstance(condition, Mapping):
        found = [condition["column"]["name"]] if isinstance(condition.get("column"), Mapping) else []
        for inner in condition.get("conditions", ()):
            found.extend(_condition_columns(inner))
        return found
    return []


@dataclass(frozen=True, slots=True)
class DerivedColumn:
    """A column the runner adds before validation, e.g. ``spx_log_return = log_return(spx_close)``."""

    name: str
    op: str
    column: str

    @property
    def inputs(self) -> tuple[str, ...]:
        return (self.column, *DERIVATIONS[self.op][1])


@dataclass(frozen=True, slots=True)
class Suite:
    """A suite file read and checked: every expectation in it is one Great Expectations accepts."""

    name: str
    source: Path
    description: str
    id_column: str
    derived_columns: tuple[DerivedColumn, ...]
    expectations: tuple[ExpectationSpec, ...]

    @property
    def required_columns(self) -> tuple[str, ...]:
        """Columns the frame must bring (derived columns are computed from their inputs)."""
        derived = {d.name for d in self.derived_columns}
        names = [self.id_column]
        for d in self.derived_columns:
            names.extend(d.inputs)
        for spec in self.expectations:
            names.extend(c for c in spec.columns if c not in derived)
        return tuple(dict.fromkeys(names))

    @property
    def is_template(self) -> bool:
        """Whether the suite names "{date}" or "{column}" and is built for a frame's columns."""
        parts = [self.id_column, *(json.dumps(spec.kwargs) for spec in self.expectations),
                 *(f"{d.name} {d.column}" for d in self.derived_columns)]
        return any(DATE_PLACEHOLDER in p or COLUMN_PLACEHOLDER in p for p in parts)


def for_columns(suite: Suite, columns: Sequence[str], *, date_column: str = "date") -> Suite:
    """``suite`` built for a frame: "{date}" is ``date_column``, "{column}" entries once per column.

    ``columns`` are the frame's columns; every one but ``date_column`` is a price column. Positions
    are renumbered in the built order, so each Great Expectations result maps back to its entry.
    """
    prices = [str(c) for c in columns if c != date_column]
    if not prices:
        raise BadInputData(f"suite {suite.name!r} needs one price column per asset besides {date_column!r}; "
                           f"the data has: {', '.join(map(str, columns)) or '(none)'}")
    specs: list[ExpectationSpec] = []
    for spec in suite.expectations:
        for column in _columns_for(spec.kwargs, prices):
            kwargs = _fill(spec.kwargs, date_column, column)
            specs.append(ExpectationSpec(len(specs) + 1, spec.type, kwargs, spec.severity, spec.meta))
    derived = [DerivedColumn(_fill(d.name, date_column, column), d.op, _fill(d.column, date_column, column))
               for d in suite.derived_columns for column in _columns_for(f"{d.name} {d.column}", prices)]
    return Suite(name=suite.name, source=suite.source, description=suite.description,
                 id_column=_fill(suite.id_column, date_column, None), derived_columns=tuple(derived),
                 expectations=tuple(specs))


def _columns_for(value: object, prices: Sequence[str]) -> Sequence[str | None]:
    return prices if COLUMN_PLACEHOLDER in json.dumps(value) else (None,)


def _fill(value: Any, date_column: str, column: str | None) -> Any:
    if isinstance(value, str):
        value = value.replace(DATE_PLACEHOLDER, date_column)
        return value if column is None else value.replace(COLUMN_PLACEHOLDER, column)
    if isinstance(value, Mapping):
        return {key: _fill(item, date_column, column) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, date_column, column) for item in value]
    return value


def suite_path(suite: str | Path) -> Path:
    """The file of a bundled suite name, or ``suite`` itself when it is a path to a JSON file."""
    if isinstance(suite, str) and suite in SUITES:
        return Path(str(resources.files("runbook.quality").joinpath("suites", f"{suite}.json")))
    path = Path(suite)
    if path.suffix.lower() != ".json":
        allowed = ", ".join(SUITES)
        raise BadSuite(f"unknown suite {str(suite)!r}; allowed: {allowed} or a path to a .json file")
    return path


def load_suite(suite: str | Path) -> Suite:
    """Read a suite by bundled name or path and prove Great Expectations loads every expectation.

    Raises ``BadSuite`` naming the file and what is wrong: unreadable JSON, a missing field, an
    unknown expectation type (with the closest allowed ones), kwargs GX refuses, an unknown severity.
    """
    path = suite_path(suite)
    document = _read_json(path)
    loaded = _parse(document, path)
    to_gx_suite(loaded)
    return loaded


def _read_json(path: Path) -> Mapping[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadSuite(f"{path}: no such suite file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadSuite(f"{path}: cannot read suite file: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise BadSuite(f"{path}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(document, dict):
        raise BadSuite(f"{path}: a suite file holds one JSON object, not {type(document).__name__}")
    return document


def _parse(document: Mapping[str, Any], path: Path) -> Suite:
    name = document.get("name")
    entries = document.get("expectations")
    if not isinstance(name, str) or not name:
        raise BadSuite(f"{path}: missing the suite's \"name\" (a non-empty string)")
    if not isinstance(entries, list) or not entries:
        raise BadSuite(f"{path}: \"expectations\" must be a non-empty list")
    meta = document.get("meta") or {}
    runbook_meta = meta.get("runbook") if isinstance(meta, Mapping) else None
    if not isinstance(runbook_meta, Mapping) or not isinstance(runbook_meta.get("id_column"), str):
        raise BadSuite(f"{path}: meta.runbook.id_column must name the column that identifies a row")
    return Suite(
        name=name,
        source=path,
        description=str(runbook_meta.get("description", "")),
        id_column=runbook_meta["id_column"],
        derived_columns=_parse_derived(runbook_meta.get("derived_columns", []), path),
        expectations=tuple(_parse_entry(entry, n, path) for n, entry in enumerate(entries, start=1)),
    )


def _parse_derived(items: object, path: Path) -> tuple[DerivedColumn, ...]:
    if not isinstance(items, list):
        raise BadSuite(f"{path}: meta.runbook.derived_columns must be a list")
    derived = []
    for item in items:
        if not isinstance(item, Mapping) or not {"name", "op", "column"} <= item.keys():
            raise BadSuite(f"{path}: each derived column needs \"name\", \"op\" and \"column\"; got {item!r}")
        if item["op"] not in DERIVATIONS:
            allowed = ", ".join(sorted(DERIVATIONS))
            raise BadSuite(f"{path}: derived column {item['name']!r} has unknown op {item['op']!r}; "
                           f"allowed: {allowed}")
        derived.append(DerivedColumn(name=item["name"], op=item["op"], column=item["column"]))
    return tuple(derived)


def _parse_entry(entry: object, position: int, path: Path) -> ExpectationSpec:
    where = f"{path}: expectation #{position}"
    if not isinstance(entry, Mapping):
        raise BadSuite(f"{where} must be a JSON object, not {type(entry).__name__}")
    unknown = sorted(set(entry) - _ENTRY_KEYS)
    if unknown:
        raise BadSuite(f"{where} has unknown field(s) {', '.join(unknown)}; "
                       f"allowed: {', '.join(sorted(_ENTRY_KEYS))}")
    kind, kwargs = entry.get("type"), entry.get("kwargs", {})
    severity = entry.get("severity", "critical")
    if not isinstance(kind, str) or not kind:
        raise BadSuite(f"{where} has no \"type\"")
    if not isinstance(kwargs, Mapping):
        raise BadSuite(f"{where} ({kind}): \"kwargs\" must be an object")
    if severity not in SEVERITIES:
        raise BadSuite(f"{where} ({kind}): unknown severity {severity!r}; allowed: {', '.join(SEVERITIES)}")
    meta = entry.get("meta") or {}
    return ExpectationSpec(position=position, type=kind, kwargs=_catalog_values(kwargs), severity=severity,
                           meta=dict(meta))


def _catalog_values(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``"value_set": "catalog:components"`` becomes the names of the catalog's components."""
    out = dict(kwargs)
    if out.get("value_set") == CATALOG_COMPONENTS:
        from runbook.domain.catalog import component_names

        out["value_set"] = list(component_names())
    return out


def to_gx_suite(suite: Suite) -> Any:
    """The ``great_expectations`` ExpectationSuite of ``suite``, every expectation accounted for."""
    from great_expectations.core.expectation_suite import ExpectationSuite

    built = [_build_expectation(spec, suite.source) for spec in suite.expectations]
    gx_suite = ExpectationSuite(name=suite.name, expectations=built,
                                meta={"runbook_source": str(suite.source)})
    check_loaded(suite, [e.expectation_type for e in gx_suite.expectations])
    return gx_suite


def _build_expectation(spec: ExpectationSpec, source: Path) -> Any:
    from great_expectations.exceptions import ExpectationNotFoundError
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    where = f"{source}: expectation #{spec.position}"
    try:
        return ExpectationConfiguration(**spec.entry()).to_domain_obj()
    except ExpectationNotFoundError:
        raise BadSuite(f"{where}: unknown expectation type {spec.type!r}{_suggestion(spec.type)}; "
                       f"allowed: {', '.join(_known_types())}") from None
    except (ValueError, TypeError) as exc:
        detail = " ".join(str(exc).split())
        raise BadSuite(f"{where} ({spec.type}) has kwargs Great Expectations refuses: {detail}") from None


def check_loaded(suite: Suite, loaded_types: list[str]) -> None:
    """Raise ``BadSuite`` unless ``loaded_types`` are exactly the file's expectation types, in order."""
    expected = [spec.type for spec in suite.expectations]
    if loaded_types == expected:
        return
    missing = Counter(expected) - Counter(loaded_types)
    named = ", ".join(sorted(missing)) or "(order changed)"
    raise BadSuite(f"{suite.source}: Great Expectations loaded {len(loaded_types)} of {len(expected)} "
                   f"expectations; not loaded: {named}; allowed types: {', '.join(_known_types())}")


def _known_types() -> list[str]:
    from great_expectations.expectations.registry import list_registered_expectation_implementations

    return sorted(list_registered_expectation_implementations())


def _suggestion(kind: str) -> str:
    close = difflib.get_close_matches(kind, _known_types(), n=2, cutoff=0.8)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
