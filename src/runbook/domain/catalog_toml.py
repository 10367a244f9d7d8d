"""Read a ``runbook.toml`` catalog into a ``Catalog`` (format in ``runbook.domain.catalog``).

Every mistake is one ``BadParameter`` / ``UnknownComponent`` line naming the file, the component,
the key and what is allowed: a catalog is input a person wrote.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from runbook.domain.catalog import (
    Catalog,
    ComponentEntry,
    Kind,
    Tier,
    Tolerance,
    bundled_catalog,
    parse_table,
    read_toml,
)
from runbook.domain.result_check import ResultCheck
from runbook.errors import BadParameter

_TOP_KEYS = {"components", "data", "bundled"}
_ENTRY_KEYS = {"tier", "kind", "legacy", "candidate", "fields", "check", "steps", "thresholds", "date_column",
               "requests", "market_data", "portfolios", "batch"}  # fmt: skip
_THRESHOLDS = {
    "max_error_rate", "max_latency_ratio", "max_memory_ratio", "min_hedge_effectiveness_ratio",
    "max_mismatch_rate", "min_observations", "confidence", "min_latency_excess_us",
}  # fmt: skip


def load_catalog(path: Path) -> Catalog:
    """The catalog in ``path``: its components after the bundled five (unless ``bundled = false``)."""
    raw = read_toml(path)
    where = f"catalog {str(path)!r}"
    _no_unknown(raw, _TOP_KEYS, where)
    data = parse_table(raw.get("data", {}), f"{where}: [data]")
    _no_unknown(data, {"date_column"}, f"{where}: [data]")
    date_column = _text(data.get("date_column", "date"), f"{where}: data.date_column")
    include = raw.get("bundled", True)
    if not isinstance(include, bool):
        raise BadParameter(f"{where}: bundled must be true or false, got {include!r}")
    shipped = bundled_catalog().entries.items()
    bundled = {name: replace(entry, date_column=date_column) for name, entry in shipped}
    entries = dict(bundled) if include else {}
    for name, table in parse_table(raw.get("components", {}), f"{where}: [components]").items():
        table = parse_table(table, f"{where}: [components.{name}]")
        entry = _entry(name, table, where, date_column, bundled.get(name))
        files = _files(table, path.resolve().parent, f"{where}: component {name!r}")
        entries[name] = replace(entry, requests=files.get("requests"), market_data=files.get("market_data"),
                                portfolios=files.get("portfolios"))  # fmt: skip
    if not entries:
        raise BadParameter(f"{where} declares no components")
    return Catalog(entries, path, date_column)


def _entry(
    name: str, table: dict[str, Any], where: str, date_column: str, base: ComponentEntry | None
) -> ComponentEntry:
    """One entry; a bundled name keeps the bundled engines, tier and kind unless the table sets them."""
    here = f"{where}: component {name!r}"
    if not name.isidentifier() or name == "all_components":
        raise BadParameter(f"{here}: the name must be an identifier (letters, digits, _), not all_components")
    _no_unknown(table, _ENTRY_KEYS, here)
    for key in ("legacy", "candidate"):
        if key not in table and base is None:
            raise BadParameter(f"{here}: {key} is required, as 'package.module:attribute'")
        if key in table:
            _import_path(table[key], f"{here}: {key}")
    check = table.get("check")
    default = base or ComponentEntry(name)
    fields = _fields(parse_table(table.get("fields", {}), f"{here}: fields"), here)
    return ComponentEntry(
        name,
        tier=_choice(Tier, table.get("tier", default.tier.value), f"{here}: tier"),
        kind=_choice(Kind, table.get("kind", default.kind.value), f"{here}: kind"),
        legacy=table.get("legacy", default.legacy),
        candidate=table.get("candidate", default.candidate),
        fields=fields or default.fields,
        check=None if check is None else _check(check, here),
        steps=_steps(table["steps"], here) if "steps" in table else None,
        thresholds=_thresholds(parse_table(table.get("thresholds", {}), f"{here}: thresholds"), here),
        date_column=_text(table.get("date_column", date_column), f"{here}: date_column"),
        bundled=base is not None and "legacy" not in table and "candidate" not in table,
        batch=_batch(table["batch"], here) if "batch" in table else {},
    )


def _batch(value: Any, where: str) -> dict[str, str]:
    """``batch = "mod:attr"`` (the candidate's) or ``batch = { legacy = "...", candidate = "..." }``."""
    table = {"candidate": value} if isinstance(value, str) else value
    if not isinstance(table, dict) or not table or set(table) - {"legacy", "candidate"}:
        raise BadParameter(f"{where}: batch {value!r} must be 'package.module:attribute' (the candidate's) "
                           f"or a table with legacy and/or candidate import paths")  # fmt: skip
    for role, path in table.items():
        _import_path(path, f"{where}: batch.{role}")
    return dict(table)


def _files(table: dict[str, Any], folder: Path, where: str) -> dict[str, Any]:
    """The entry's data files, resolved against the catalog's folder."""
    out: dict[str, str] = {}
    for key in ("requests", "market_data", "portfolios"):
        if key in table:
            out[key] = str(folder / _text(table[key], f"{where}: {key}"))
    return out


def _no_unknown(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        known = ", ".join(sorted(allowed))
        raise BadParameter(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {known}")


def _choice(enum: Any, value: Any, where: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        raise BadParameter(f"{where} {value!r} is not one of: {', '.join(m.value for m in enum)}") from None


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise BadParameter(f"{where} must be a non-empty string, got {value!r}")
    return value


def _import_path(value: Any, where: str) -> None:
    module, sep, attribute = str(value).partition(":") if isinstance(value, str) else ("", "", "")
    if not sep or not module or not attribute:
        raise BadParameter(f"{where} {value!r} must look like 'package.module:attribute'")


def _check(value: Any, where: str) -> ResultCheck:
    try:
        return ResultCheck.parse(_text(value, f"{where}: check"))
    except BadParameter as exc:
        raise BadParameter(f"{where}: {exc}") from None


def _fields(table: dict[str, Any], where: str) -> dict[str, Tolerance]:
    out = {}
    for name, spec in table.items():
        spec = parse_table(spec, f"{where}: fields.{name}")
        _no_unknown(spec, {"rel", "abs"}, f"{where}: fields.{name}")
        try:
            out[name] = Tolerance(**spec)
        except BadParameter as exc:
            raise BadParameter(f"{where}: fields.{name}: {exc}") from None
    return out


def _steps(value: Any, where: str) -> tuple[float, ...]:
    ok = isinstance(value, list) and value and all(isinstance(v, int | float) and not isinstance(v, bool)
                                                   for v in value)  # fmt: skip
    steps = tuple(float(v) for v in value) if ok else ()
    if not ok or any(not 0 < s <= 100 for s in steps) or any(b <= a for a, b in itertools.pairwise(steps)):
        raise BadParameter(f"{where}: steps {value!r} must be increasing percentages in (0, 100]")
    return steps


def _thresholds(table: dict[str, Any], where: str) -> dict[str, float]:
    _no_unknown(table, _THRESHOLDS, f"{where}: thresholds")
    for key, value in table.items():
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            raise BadParameter(f"{where}: thresholds.{key} {value!r} must be a finite number")
    return {key: float(value) for key, value in table.items()}
