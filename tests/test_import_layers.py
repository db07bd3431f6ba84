"""Imports point one way: the library's layers, and the library never imports the web app.

Every ``import`` and ``from ... import`` is read from the source (``ast``), deferred ones inside
functions included, so a lazy import cannot hide an upward edge. Layers of ``search_engine``,
lowest first (a module may import its own layer and the ones below):

    space < graph < resources < export < train < search < cli < (memory, __main__)

``KNOWN_UPWARD`` lists the upward edges allowed, each with the file that makes it (none today);
the test fails when one disappears (so the list only shrinks) or a new one appears.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("space", "graph", "resources", "export", "train", "search", "cli", "memory",
          "__main__")
#: Upward edges allowed today: none (the last two, space/pruned.py -> graph and
#: export/measure_overhead.py -> train, were removed by moving the code where it belongs).
KNOWN_UPWARD: set[tuple[str, str]] = set()


def imported_modules(source: str, module: str) -> set[str]:
    """Absolute names of every module ``source`` (the code of ``module``) imports."""
    names = set()
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                names.add(".".join([*base, node.module] if node.module else base))
            elif node.module:
                names.add(node.module)
    return names


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "search_engine" and len(parts) > 1 else None


def upward_imports(path: Path, source: str) -> set[tuple[str, str]]:
    """``(file, imported layer)`` for each import of ``source`` above the file's own layer,
    and ``(file, "nasweb")`` / ``(file, "django")`` for the web app or Django."""
    relative = path.relative_to(ROOT).as_posix()
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    own = layer_of(module)
    found = set()
    for name in imported_modules(source, module):
        top = name.split(".")[0]
        if top in ("nasweb", "django", "rest_framework", "channels", "celery"):
            found.add((relative, top))
            continue
        target = layer_of(name)
        if own in LAYERS and target in LAYERS and LAYERS.index(target) > LAYERS.index(own):
            found.add((relative, target))
    return found


def library_upward_imports() -> set[tuple[str, str]]:
    found = set()
    for path in sorted((ROOT / "search_engine").rglob("*.py")):
        found |= upward_imports(path, path.read_text())
    return found


def test_every_library_module_has_a_layer():
    packages = {p.name for p in (ROOT / "search_engine").iterdir()
                if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in (ROOT / "search_engine").glob("*.py") if p.stem != "__init__"}
    assert packages | modules <= set(LAYERS), "give the new package a place in LAYERS"


def test_library_imports_point_down_only():
    assert library_upward_imports() == KNOWN_UPWARD


def test_an_added_upward_import_is_caught():
    """The check itself: a deferred import of the search layer from space/ is an upward edge,
    a relative import within a layer is not, and the web app is never allowed."""
    path = ROOT / "search_engine" / "space" / "example.py"
    source = ("from . import architecture\n"
              "def f():\n    from search_engine.search.engine import Search\n"
              "    import nasweb.searches.models\n")
    assert upward_imports(path, source) == {("search_engine/space/example.py", "search"),
                                            ("search_engine/space/example.py", "nasweb")}
    assert upward_imports(ROOT / "search_engine" / "search" / "x.py",
                          "from ..train import trainer\n") == set()


def test_dispatch_is_a_leaf_of_the_web_app():
    """Tasks are published by name: ``dispatch`` imports none of the app's modules (it used to
    import ``tasks``, which imports ``handlers``, which imports ``dispatch``)."""
    path = ROOT / "nasweb" / "searches" / "dispatch.py"
    names = imported_modules(path.read_text(), "nasweb.searches.dispatch")
    assert not [n for n in names if n.startswith("nasweb.searches")], names
