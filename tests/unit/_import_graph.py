"""The import graph of a source tree, read with ``ast`` (no module is executed).

Every ``import`` counts, at module level or inside a function (a lazy import runs as soon as its
function does), ``if TYPE_CHECKING:`` blocks excepted (they never run). Relative imports are
resolved. ``reachable`` follows the project's own modules transitively and returns the outside
top-level names (``prefect``, ``flows``) and project modules a module can end up importing.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ImportGraph", "violations"]


@dataclass
class ImportGraph:
    """Modules of the package rooted at ``root`` (a folder named like the package) and their imports."""

    root: Path
    imports: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def read(cls, root: Path) -> ImportGraph:
        graph = cls(root)
        for path in sorted(root.rglob("*.py")):
            module = _module_name(root, path)
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            is_package = path.name == "__init__.py"
            graph.imports[module] = set(_imports(tree, module, is_package=is_package))
        return graph

    def _resolve(self, name: str) -> str | None:
        """The project module ``name`` loads (the longest known prefix), or None when outside."""
        parts = name.split(".")
        for end in range(len(parts), 0, -1):
            candidate = ".".join(parts[:end])
            if candidate in self.imports:
                return candidate
        return None

    def reachable(
        self, start: str, *, skip: Callable[[str, str], bool] = lambda _importer, _name: False
    ) -> dict[str, list[str]]:
        """Every name ``start`` can import, directly or through project modules, with one path to it.

        Edges for which ``skip(importer, name)`` holds are left out.
        """
        paths: dict[str, list[str]] = {start: [start]}
        queue = [start]
        while queue:
            current = queue.pop(0)
            for name in sorted(self.imports.get(current, ())):
                targets = [name, *_parents(name)]
                for target in targets:
                    if skip(current, target):
                        continue
                    resolved = self._resolve(target) if target.startswith(self.root.name) else None
                    key = resolved or target
                    if key in paths:
                        continue
                    paths[key] = [*paths[current], key]
                    if resolved is not None:
                        queue.append(resolved)
        return paths


def violations(
    graph: ImportGraph, modules: Iterable[str], forbidden: Iterable[str],
    *, allowed: Iterable[tuple[str, str]] = (),
) -> list[str]:
    """``module -> ... -> name``, once per module and forbidden name reachable from ``modules``.

    ``allowed`` holds (importer, forbidden name) edges that are accepted where they stand (an
    adapter kept lazily in its module): paths through them are not reported.
    """
    banned = tuple(forbidden)
    exceptions = set(allowed)

    def skip(importer: str, name: str) -> bool:
        return any((importer, prefix) in exceptions for prefix in [name, *_parents(name)])

    found = []
    for module in modules:
        reported: set[str] = set()
        for name, path in graph.reachable(module, skip=skip).items():
            ban = next((b for b in banned if name == b or name.startswith(b + ".")), None)
            if ban is None or ban in reported:
                continue
            reported.add(ban)
            found.append(" -> ".join([*path[:-1], ban]))
    return sorted(found)


def _module_name(root: Path, path: Path) -> str:
    relative = path.relative_to(root.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _parents(name: str) -> Iterator[str]:
    """``a.b.c`` also imports ``a.b`` and ``a`` (their ``__init__`` runs first)."""
    parts = name.split(".")
    for end in range(len(parts) - 1, 0, -1):
        yield ".".join(parts[:end])


def _imports(tree: ast.Module, module: str, *, is_package: bool) -> Iterator[str]:
    package = module if is_package else module.rpartition(".")[0]
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, package)
            yield base
            # ``from pkg import name`` may load the submodule ``pkg.name``.
            yield from (f"{base}.{alias.name}" for alias in node.names if alias.name != "*")


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if node.level == 0:
        return node.module or ""
    parts = package.split(".")
    base = ".".join(parts[: len(parts) - node.level + 1])
    return f"{base}.{node.module}" if node.module else base


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node except those under ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from (n for child in node.orelse for n in [child, *_walk(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def _walk(node: ast.AST) -> Iterator[ast.AST]:
    yield from _runtime_nodes(node)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )
