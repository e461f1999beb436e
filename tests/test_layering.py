"""The layout shows the data flow: no module imports from a package above it, and no import circles.

Read from the source with ``ast`` (nothing is imported), so a violation fails here before it can
hide behind import order. The layers of ``memory``, bottom first:

    errors, deadline, telemetry         -> nothing of memory
    values                              -> errors
    policy, embed                       -> values, errors (embed: telemetry)
    text/, store/                       -> policy, values, errors, deadline (not each other)
    recall/                             -> text/
    call/                               -> recall/, text/, store/ (the interface only), telemetry
    compaction/                         -> recall/, text/ (not call/)
    caller_store                        -> call/, recall/, store/, embed, text/
    livekit/                            -> call/, compaction/, text/, embed, telemetry (never caller_store)
    inspector/                          -> text/ and the face of memory (the staff's web app, the top)
    importer                            -> call/, store/, embed, text/ (files of past calls into a store)
    __init__, __main__                  -> anything
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MEMORY = ROOT / "memory"

# part of memory -> the parts it may import (besides itself); a part is a top-level module or package
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "deadline": set(),
    "telemetry": set(),
    "values": {"errors"},
    "policy": {"values", "errors"},
    "embed": {"errors", "telemetry"},
    "text": {"values", "errors", "policy"},
    "store": {"values", "errors", "deadline"},
    "recall": {"text", "values", "errors", "policy", "deadline"},
    "call": {"recall", "text", "store", "values", "errors", "policy", "deadline", "telemetry"},
    "compaction": {"recall", "text", "values", "errors"},
    "caller_store": {"call", "recall", "store", "embed", "text", "values", "errors", "policy", "deadline"},
    "livekit": {"call", "compaction", "text", "embed", "values", "errors", "policy", "deadline", "telemetry"},
    "inspector": {"text", "values", "errors"},
    "importer": {"call", "store", "embed", "text", "values", "errors", "policy"},
}
FACES = {"__init__", "__main__"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _imports(path: Path) -> list[str]:
    """Absolute names of the modules ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            submodules = [f"{name}.{alias.name}" for alias in node.names if _is_module(f"{name}.{alias.name}")]
            found.extend(submodules or [name])  # `from . import x` imports the module x, not its package's face
    return found


def _memory_modules() -> dict[str, Path]:
    return {_module_name(p): p for p in MEMORY.rglob("*.py")}


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_no_module_imports_from_a_part_above_it():
    wrong = []
    modules = _memory_modules()
    for module, path in modules.items():
        part = _part(module)
        if part in FACES or module == "memory":
            continue
        assert part in ALLOWED, f"{module}: a new part of memory needs a place in ALLOWED"
        for imported in _imports(path):
            if not imported.startswith("memory.") or imported not in modules:
                continue
            other = _part(imported)
            if other != part and other not in ALLOWED[part]:
                wrong.append(f"{module} imports {imported}")
    assert not wrong, "\n".join(wrong)


def test_memory_has_no_import_circles():
    modules = _memory_modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in modules.items():
        for imported in _imports(path):
            target = imported if imported in modules else imported.rpartition(".")[0]
            if target in modules and target != module and not (module == target.rpartition(".")[0] == "memory"):
                graph[module].add(target)
    # packages import their own modules from __init__; a module importing its package's face is the circle
    state: dict[str, int] = {}
    circles: list[str] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                circles.append(" -> ".join([*trail[trail.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for module in sorted(modules):
        if module not in state:
            visit(module, [module])
    assert not circles, "\n".join(circles)


def test_only_the_livekit_package_of_memory_imports_livekit():
    importing = sorted(
        module
        for module, path in _memory_modules().items()
        if any(name == "livekit" or name.startswith("livekit.") for name in _imports(path))
    )
    assert importing and all(m.startswith("memory.livekit") for m in importing), importing


def test_nothing_inside_memory_names_the_process_store():
    naming = sorted(
        module
        for module, path in _memory_modules().items()
        if _part(module) not in FACES and any(n.startswith("memory.caller_store") for n in _imports(path))
    )
    assert naming == [], naming


@pytest.mark.parametrize("folder", ["worker", "tools"])
def test_the_application_uses_the_faces_of_memory_only(folder):
    faces = {"memory", "memory.livekit", "memory.compaction"}
    wrong = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for imported in _imports(path):
            if imported.startswith("memory") and imported not in faces and imported.rpartition(".")[0] not in faces:
                wrong.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert not wrong, "\n".join(wrong)


def test_the_calls_front_object_stays_a_front():
    """CallHooks delegates to parts that own their state (linker, history, writer, transcript,
    closer); when it grows past 250 lines it is doing one of their jobs."""
    tree = ast.parse((MEMORY / "call" / "hooks.py").read_text())
    [hooks] = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "CallHooks"]
    assert hooks.end_lineno is not None and hooks.end_lineno - hooks.lineno + 1 < 250
