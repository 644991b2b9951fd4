"""Every third-party module the package imports is installed by ``pip install openrds`` (its runtime
dependencies and what they require), not only by the test extras: a fresh install without them must
start (`scripts/serve.sh`)."""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

import openrds

PACKAGE = Path(openrds.__file__).parent


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _runtime_distributions() -> set[str]:
    """The package's dependencies without extras, and everything they require (their own extras aside)."""
    wanted = [r for r in metadata.requires("openrds") or [] if "extra ==" not in r]
    found: set[str] = set()
    while wanted:
        name = _name(wanted.pop())
        if name in found:
            continue
        found.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        wanted.extend(r for r in requires if "extra ==" not in r)
    return found


def _imported_modules() -> set[str]:
    modules: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return {m for m in modules if m != "openrds" and m not in sys.stdlib_module_names}


def test_every_imported_module_comes_with_the_runtime_dependencies() -> None:
    runtime = _runtime_distributions()
    providers = metadata.packages_distributions()
    missing = {
        module: providers.get(module, ["?"])
        for module in _imported_modules()
        if not any(d.lower().replace("_", "-") in runtime for d in providers.get(module, []))
    }
    assert not missing, f"imported by the package but installed only by the test extras (or not at all): {missing}"
