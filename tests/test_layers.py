"""Dependencies point one way: pages -> services -> models -> pure helpers (README, Layout).

Read from the source with `ast`, imports inside functions included: a lazy import is still a
dependency, and an import circle hidden in a function is still a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "fulfillment"
PAGES = ("fulfillment.admin", "fulfillment.api", "fulfillment.views", "fulfillment.account")
TASKS = "fulfillment.tasks"
SERVICES = "fulfillment.services"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(APP.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Return every node but those under `if TYPE_CHECKING:` (annotations only, never run)."""
    nodes: list[ast.AST] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        nodes.append(node)
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return nodes


def _imports(path: Path) -> set[str]:
    """Return the fulfillment modules `path` imports, anywhere in the file."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("fulfillment")}


def _modules(package: str) -> dict[str, set[str]]:
    folder = APP.parent / package.replace(".", "/")
    files = sorted(folder.rglob("*.py")) if folder.is_dir() else [folder.with_suffix(".py")]
    return {_module_name(path): _imports(path) for path in files}


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_models_import_no_service_task_or_page():
    wrong = {
        module: sorted(i for i in imports if _under(i, (SERVICES, TASKS, *PAGES)))
        for module, imports in _modules("fulfillment.models").items()
    }
    assert {m: i for m, i in wrong.items() if i} == {}


def test_services_import_no_task_module_or_page():
    wrong = {
        module: sorted(i for i in imports if _under(i, (TASKS, *PAGES)))
        for module, imports in _modules(SERVICES).items()
    }
    assert {m: i for m, i in wrong.items() if i} == {}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """Return one import circle among the graph's modules, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


@pytest.mark.parametrize("package", [SERVICES, "fulfillment.models"])
def test_no_import_circle_inside_a_layer(package):
    modules = _modules(package)
    graph = {
        module: {i for i in imports if i in modules and i != module}
        for module, imports in modules.items()
    }
    # A package's __init__ re-exports its modules; importing it is importing them, not a circle.
    graph.pop(package, None)
    assert _cycle(graph) is None


def test_the_circle_finder_finds_a_circle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
