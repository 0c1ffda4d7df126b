"""The layering rules of docs/ARCHITECTURE.md, checked on the source rather than trusted.

Imports are read from the code (module level, outside ``if TYPE_CHECKING``): what runs when a module
is imported. A circle between two packages means neither can be understood, tested or moved alone.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "crm_core")


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")}


def _imports_at_run_time(path: Path) -> set[str]:
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If | ast.Try):
                visit(node.body)
                visit(node.orelse)
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return found


def _graph(depth: int) -> dict[str, set[str]]:
    """Who imports whom, between units named by their first ``depth`` dotted parts."""

    def unit(module: str) -> str:
        return ".".join(module.split(".")[:depth])

    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in MODULES.items():
        for imported in _imports_at_run_time(path) & MODULES.keys():
            if unit(imported) != unit(module):
                graph[unit(module)].add(unit(imported))
    return graph


def _a_circle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def walk(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (circle := walk(nxt, [*path, nxt])):
                return circle
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (circle := walk(start, [start])):
            return circle
    return None


def test_no_module_imports_itself_back_at_run_time() -> None:
    assert _a_circle(_graph(depth=99)) is None


@pytest.mark.parametrize("depth", [2], ids=["packages of bot and crm_core"])
def test_no_two_packages_import_each_other(depth: int) -> None:
    assert _a_circle(_graph(depth)) is None


def test_crm_core_knows_no_slack() -> None:
    slack = {
        name
        for module, path in MODULES.items()
        if module.startswith("crm_core.")
        for name in _imports_at_run_time(path)
        if name.startswith(("slack_bolt", "slack_sdk"))
    }
    assert slack == set()


def test_bot_holds_no_sql() -> None:
    sql = re.compile(r"(^|[^.\w])(select|insert|delete)\(|session\.(add|execute|scalars?|query)\(")
    offenders = [
        f"{module}:{number}"
        for module, path in MODULES.items()
        if module.startswith("bot.")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if sql.search(line)
    ]
    assert offenders == []
