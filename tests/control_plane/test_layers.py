"""Dependencies point inward: every import of every module of ``src/openrds`` - at the top, inside a
function or under ``TYPE_CHECKING`` alike - goes to its own layer or to one its layer may import.

The layers, outermost first (the rules below are the only place they are written down):

- the composition roots (`cli`, `__main__`, `api.app`, `container`) build everything and may import
  anything;
- the faces: `console` (for people) may read the `metrics` face's lag history and inventory; `api`
  (one package per vendor) and `console` are built over the `Container` and call the services;
  `metrics` (Prometheus) reads the monitor's snapshot and, for its inventory, the store; no face
  imports `jobs` or `engine`, and only `metrics` the store;
- `reconcile`: the loops that make the world match the store, over services, jobs, the monitor,
  the store and the engine;
- `services` (use cases) over `jobs`, `persistence` and `domain`;
- `jobs` over `engine`, `persistence`, `domain`; `monitoring` likewise; its `snapshot` (the read
  model every face reads) imports nothing;
- `persistence` and `engine` over `domain` alone; `domain` imports nothing of OpenRDS;
- utilities (`clock`, `settings`, `crypto`, `periodic`, `data_root`, `__version__`, and the request
  tag `metrics.calls` that the faces put on a request for the metrics middleware) import nothing of
  OpenRDS and may be imported by anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import openrds

SRC = Path(openrds.__file__).parent

#: The layer of a module: the longest of these prefixes its dotted name starts with. A new module at
#: the top level is a utility: it may import nothing of OpenRDS until it is given a layer here.
LAYER_OF = {
    "openrds": "utility",
    "openrds.__main__": "root",
    "openrds.cli": "root",
    "openrds.api.app": "root",
    "openrds.container": "container",
    "openrds.api": "api",
    "openrds.console": "console",
    "openrds.metrics": "metrics",
    "openrds.metrics.calls": "utility",
    "openrds.reconcile": "reconcile",
    "openrds.services": "services",
    "openrds.jobs": "jobs",
    "openrds.monitoring": "monitoring",
    "openrds.monitoring.snapshot": "snapshot",
    "openrds.persistence": "persistence",
    "openrds.engine": "engine",
    "openrds.domain": "domain",
}
EVERYTHING = frozenset(LAYER_OF.values())
#: What each layer may import besides itself.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "root": EVERYTHING,
    "container": EVERYTHING,
    "console": frozenset({"container", "metrics", "services", "snapshot", "domain", "utility"}),
    "api": frozenset({"container", "services", "domain", "utility"}),
    "metrics": frozenset({"snapshot", "persistence", "domain", "utility"}),
    "reconcile": frozenset({"services", "jobs", "monitoring", "snapshot", "persistence", "engine", "domain",
                            "utility"}),
    "services": frozenset({"jobs", "persistence", "domain", "utility"}),
    "jobs": frozenset({"engine", "persistence", "domain", "utility"}),
    "monitoring": frozenset({"snapshot", "engine", "persistence", "domain", "utility"}),
    "snapshot": frozenset(),
    "persistence": frozenset({"domain", "utility"}),
    "engine": frozenset({"domain", "utility"}),
    "domain": frozenset(),
    "utility": frozenset(),
}


def layer_of(module: str) -> str:
    return LAYER_OF[max((p for p in LAYER_OF if module == p or module.startswith(p + ".")), key=len)]


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = ("openrds", *path.relative_to(SRC).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(module: str, is_package: bool, source: str, known: set[str]) -> list[tuple[int, str]]:
    """(line, module) for every import of OpenRDS in ``source``; ``from a import b`` counts as an import
    of ``a.b`` when that is a module."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package, one level up per extra dot
                package = module.split(".") if is_package else module.split(".")[:-1]
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            found += [(node.lineno, f"{base}.{a.name}" if f"{base}.{a.name}" in known else base)
                      for a in node.names]
    return [(line, name) for line, name in found if name == "openrds" or name.startswith("openrds.")]


def violations(module: str, is_package: bool, source: str, known: set[str]) -> list[str]:
    layer = layer_of(module)
    allowed = MAY_IMPORT[layer]
    rule = f"{layer} may import only {', '.join(sorted(allowed))}" if allowed else f"{layer} imports nothing else"
    return [f"{module}:{line} ({layer}) imports {target} ({layer_of(target)}): {rule}"
            for line, target in imported(module, is_package, source, known)
            if layer_of(target) not in allowed | {layer}]


def test_every_import_points_inward() -> None:
    found = modules()
    assert len(found) > 50, f"only {len(found)} modules found under {SRC}"
    broken = [v for name, path in found.items()
              for v in violations(name, path.name == "__init__.py", path.read_text(), set(found))]
    assert not broken, "imports against the layers (tests/control_plane/test_layers.py):\n" + "\n".join(broken)


def test_every_layer_prefix_names_a_module() -> None:
    # A module moved or renamed must take its rule along, not silently fall into its parent's layer.
    assert set(LAYER_OF) <= set(modules()), set(LAYER_OF) - set(modules())
    assert set(MAY_IMPORT) == set(LAYER_OF.values())


def test_an_upward_import_inside_a_function_is_found() -> None:
    source = "def f():\n    from openrds.services import groups\n    import openrds.api.app\n"
    known = {"openrds.services", "openrds.services.groups", "openrds.api.app"}
    assert violations("openrds.domain.rules", False, source, known) == [
        "openrds.domain.rules:2 (domain) imports openrds.services.groups (services): domain imports nothing else",
        "openrds.domain.rules:3 (domain) imports openrds.api.app (root): domain imports nothing else"]
