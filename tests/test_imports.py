"""The import graph: no circle between our modules; packages import only as the design allows."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("agent", "crm", "telephony", "voice")
# What each package may import of ours, besides itself (config.py is settings, for everyone).
ALLOWED = {
    "voice": {"config"},
    "crm": {"config"},
    "agent": {"config", "crm"},
    "telephony": {"config", "crm", "agent", "voice"},
}


def _modules() -> dict[str, Path]:
    files = [ROOT / "server.py", ROOT / "config.py"]
    files += [f for package in PACKAGES for f in sorted((ROOT / package).rglob("*.py"))]
    modules = {}
    for path in files:
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    return modules


@cache
def _graph() -> dict[str, set[str]]:
    """Every import of one of our modules, at any depth of the file (TYPE_CHECKING ones too)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    target = f"{node.module}.{alias.name}"
                    target = target if target in modules else node.module
                    if target in modules:
                        graph[name].add(target)
            elif isinstance(node, ast.Import):
                graph[name] |= {alias.name for alias in node.names if alias.name in modules}
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    circles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                circles.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    return circles


def test_no_module_imports_itself_through_a_circle():
    circles = _circles(_graph())
    assert not circles, "import circles: " + "; ".join(" → ".join(c) for c in circles)


def test_packages_import_only_the_way_the_design_allows():
    wrong = [
        f"{module} → {target}"
        for module, targets in _graph().items()
        for target in targets
        if (package := module.split(".")[0]) in ALLOWED
        and (other := target.split(".")[0]) != package
        and other not in ALLOWED[package]
    ]
    assert not wrong, (
        "imports against the design (telephony → voice, agent, crm; agent → crm): "
        + (", ".join(sorted(wrong)))
    )


def test_the_check_finds_a_circle():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
