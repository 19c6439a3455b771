"""The import arrows of fastmixloss/ point down its layers, and nothing imports in a circle.

Every import counts, at module level or inside a function (a lazy import is still an
arrow). Rooms (kernels/, cuda/, features/, cli/) may import inside themselves in any
order that is not a circle; between rooms and modules, only downwards.
"""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "fastmixloss"

# Bottom to top. A module's layer is that of the longest prefix listed.
LAYERS = (
    ("fastmixloss.errors", "fastmixloss.kernels"),
    ("fastmixloss.validation", "fastmixloss.windows", "fastmixloss.filterbanks",
     "fastmixloss.weighting", "fastmixloss.results"),
    ("fastmixloss.cuda",),
    ("fastmixloss.backend",),
    ("fastmixloss.options",),
    ("fastmixloss.plan",),
    ("fastmixloss.engine",),
    ("fastmixloss.spectral", "fastmixloss.presets", "fastmixloss.time_domain",
     "fastmixloss.reference", "fastmixloss.features"),
    ("fastmixloss.grad",),          # gradients: the faces' plans run backwards
    ("fastmixloss.torch", "fastmixloss.jax"),   # training adapters over grad/
    ("fastmixloss.evaluation",),    # several losses in one pass, built on the faces
    ("fastmixloss.startup",),
    ("fastmixloss",),               # the public API (__init__.py)
    ("fastmixloss.cli",),           # the command line, built on the public API
    ("fastmixloss.__main__",),
)


def _module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules():
    return {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _imports(name, path, modules):
    """The fastmixloss modules that module `name` imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            submodules = [f"{target}.{alias.name}" for alias in node.names
                          if f"{target}.{alias.name}" in modules]
            found.update(submodules)
            if len(submodules) < len(node.names):   # names defined in `target` itself
                found.add(target)
    return {m for m in found if m in modules and m != name}


def _graph():
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _layer(name):
    best = None
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            # the package itself stands for __init__.py only, not every module in it
            inside = prefix != "fastmixloss" and name.startswith(prefix + ".")
            if name == prefix or inside:
                if best is None or len(prefix) > len(best[1]):
                    best = (index, prefix)
    if best is None:
        pytest.fail(f"{name} is in no layer of LAYERS: add it where it belongs")
    return best


def test_every_import_points_down_the_layers():
    wrong = []
    for name, targets in _graph().items():
        layer, room = _layer(name)
        for target in targets:
            target_layer, target_room = _layer(target)
            if target_layer > layer or (target_layer == layer and target_room != room):
                wrong.append(f"{name} -> {target}")
    assert not wrong, "imports that point up or sideways:\n" + "\n".join(sorted(wrong))


def test_no_import_cycle():
    graph = _graph()
    state, cycles = {}, []

    def visit(name, path):
        state[name] = "open"
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                cycles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[name] = "done"
    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_walk_sees_imports():
    """The walk itself works: it finds arrows known to exist, relative and lazy ones."""
    graph = _graph()
    assert "fastmixloss.engine" in graph["fastmixloss.spectral"]
    assert "fastmixloss.cuda" in graph["fastmixloss.backend"]     # inside select()
    assert "fastmixloss.errors" in graph["fastmixloss.validation"]
