"""The dashboard's layers, read from the source: every import counts, wherever it stands
(at the top, inside a function, under ``TYPE_CHECKING``).

    app.tui.app, app.tui.commands     the app: composes the screens
    app.tui.screens.*                 the screens
    app.tui.base, messages, ...       what screens rely on
    widgets.*                         widgets and their text helpers
    app.client (+ the domain)         the only way to the server

Widgets never import the dashboard, the dashboard never imports the server side
(it is a client of the API), and no two dashboard modules import each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UI_FILES = sorted([*ROOT.glob("app/tui/**/*.py"), *ROOT.glob("widgets/*.py")])
SERVER_SIDE = ("storage", "app.server", "app.service", "app.api", "app.scheduler", "app.runner", "app.events")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports (``from a import b`` counts as ``a`` and ``a.b``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0 and node.module, f"{path}: a relative import"
            base = node.module
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


GRAPH = {module_name(p): imports(p) for p in UI_FILES}


def within(names: set[str], prefix: str) -> set[str]:
    return {n for n in names if n == prefix or n.startswith(prefix + ".")}


def test_widgets_never_import_the_dashboard() -> None:
    upward = {m: within(names, "app.tui") for m, names in GRAPH.items() if m.startswith("widgets")}
    assert {m: names for m, names in upward.items() if names} == {}


def test_the_dashboard_reaches_the_server_only_through_the_client() -> None:
    reached = {m: set().union(*(within(names, s) for s in SERVER_SIDE)) for m, names in GRAPH.items()}
    assert {m: names for m, names in reached.items() if names} == {}


def edges() -> set[tuple[str, str]]:
    return {(m, target) for m, names in GRAPH.items() for target in names if target in GRAPH and target != m}


def test_no_import_cycles_in_the_dashboard() -> None:
    graph: dict[str, set[str]] = {m: set() for m in GRAPH}
    for source, target in edges():
        graph[source].add(target)

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph[todo.pop()] - seen:
                if nxt == goal:
                    return True
                seen.add(nxt)
                todo.append(nxt)
        return False

    assert sorted(m for m in graph if reaches(m, m)) == []
