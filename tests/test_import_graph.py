"""The import graph of src/pellucid, read with ast (nothing is imported).

Layers, lowest first; a module may import its own layer and the ones below:

0. core: data checks, the model adapter, results, the registry, errors, io, version,
   the explainer protocol, the seeding rule, the provenance record, the dispatcher (it
   reaches methods only through the registry's names, loaded when built)
1. support: bundled data sets and the dask helpers every method shares
2. compute: the methods (shapley, tree, local, effects, torch, metrics, quality,
   counterfactual)
3. compose: what combines methods into artefacts (regulatory, comparison)
4. render: plots, the report, and results drawn for a terminal (shared by the command
   line and the demo)
5. app: the command line, the demo, the service and the top-level namespace

Besides the layers: no import cycles between modules or between packages,
nothing imports the top-level ``pellucid`` namespace from inside, and render
modules reach other packages only through their public ``__init__``.

Edges that break a rule today and belong to code owned elsewhere are listed in
``ALLOWED`` with the reason and the fix; an entry that no longer matches an
import fails the test, so the list only shrinks.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "pellucid"

LAYERS: dict[str, int] = {
    "pellucid._version": 0,
    "pellucid._errors": 0,
    "pellucid._data": 0,
    "pellucid._model": 0,
    "pellucid._results": 0,
    "pellucid._registry": 0,
    "pellucid._io": 0,
    "pellucid._protocol": 0,
    "pellucid._random": 0,
    "pellucid._provenance": 0,
    "pellucid._dispatch": 0,
    "pellucid.datasets": 1,
    "pellucid.scale": 1,
    "pellucid.shapley": 2,
    "pellucid.tree": 2,
    "pellucid.local": 2,
    "pellucid.effects": 2,
    "pellucid.torch": 2,
    "pellucid.metrics": 2,
    "pellucid.quality": 2,
    "pellucid.counterfactual": 2,
    "pellucid.regulatory": 3,
    "pellucid.comparison": 3,
    "pellucid.plots": 4,
    "pellucid.reporting": 4,
    "pellucid._terminal": 4,
    "pellucid.cli": 5,
    "pellucid.demo": 5,
    "pellucid.serve": 5,
    "pellucid.__main__": 5,
    "pellucid": 6,
}
RENDER = ("pellucid.plots", "pellucid.reporting._render")

# (importer, imported) -> why it is still there and how it goes away.
ALLOWED: dict[tuple[str, str], str] = {
    ("pellucid.tree._explainer", "pellucid.shapley._game"): (
        "package cycle tree <-> shapley: TreeShap reads shapley's Background (summarize's "
        "weighted rows) while shapley.explain dispatches to TreeShap; goes when Background "
        "moves to a core module and the dispatcher (_dispatch.py) owns the fallback"
    ),
    ("pellucid._model", "pellucid.torch._base"): (
        "core -> compute: Model._predict_torch borrows torch._base.from_array to build "
        "a tensor; goes when that helper moves into the core (it needs only numpy and torch)"
    ),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(name: str, source: str, is_package: bool, known: set[str]) -> list[tuple[str, bool]]:
    """Every pellucid module ``source`` imports, with True when only under TYPE_CHECKING.

    Imports inside functions count: they are dependencies too, only deferred.
    ``from .x import y`` names the module ``x.y`` when that is a module, else ``x``.
    """
    package = name if is_package else name.rpartition(".")[0]
    found: list[tuple[str, bool]] = []

    def target(node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        base = package.split(".")
        base = base[: len(base) - (node.level - 1)]
        return ".".join(base + ([node.module] if node.module else []))

    def visit(node: ast.AST, typing_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for stmt in child.body:
                    visit_one(stmt, True)
                for stmt in child.orelse:
                    visit_one(stmt, typing_only)
            else:
                visit_one(child, typing_only)

    def visit_one(node: ast.AST, typing_only: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend((a.name, typing_only) for a in node.names if _ours(a.name))
        elif isinstance(node, ast.ImportFrom):
            mod = target(node)
            if _ours(mod):
                for alias in node.names:
                    sub = f"{mod}.{alias.name}"
                    found.append((sub if sub in known else mod, typing_only))
        visit(node, typing_only)

    visit(ast.parse(source), False)
    return found


def _ours(module: str) -> bool:
    return module == "pellucid" or module.startswith("pellucid.")


def build_graph(root: Path = PACKAGE) -> dict[str, dict[str, bool]]:
    """module -> {imported module: typing_only}; an edge is typing-only only if every
    import of it is."""
    files = {module_name(p): p for p in sorted(root.rglob("*.py"))}
    graph: dict[str, dict[str, bool]] = {}
    for name, path in files.items():
        edges: dict[str, bool] = {}
        for dep, typing_only in imports_of(
            name, path.read_text(encoding="utf-8"), path.name == "__init__.py", set(files)
        ):
            if dep != name:
                edges[dep] = edges.get(dep, True) and typing_only
        graph[name] = edges
    return graph


def component(module: str) -> str:
    """The layer entry a module belongs to: its longest prefix in LAYERS."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in LAYERS:
            return prefix
    raise KeyError(module)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    scc = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        scc.append(member)
                        if member == node:
                            break
                    if len(scc) > 1:
                        found.append(sorted(scc))
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, dict[str, bool]]:
    return build_graph()


def _runtime(graph: dict[str, dict[str, bool]]) -> dict[str, set[str]]:
    return {
        src: {
            dst
            for dst, typing_only in deps.items()
            if not typing_only and (src, dst) not in ALLOWED
        }
        for src, deps in graph.items()
    }


def test_the_reader_sees_imports_of_every_form():
    source = (
        "import pellucid.tree\n"
        "from .. import _registry\n"
        "from .._results import Explanation\n"
        "from . import _b\n"
        "import numpy\n"
        "def f():\n    from ..shapley import explain\n"
        "if TYPE_CHECKING:\n    from ..plots import bar\n"
    )
    known = {"pellucid._registry", "pellucid.pkg._b"}
    got = dict(imports_of("pellucid.pkg._a", source, False, known))
    assert got == {
        "pellucid.tree": False,
        "pellucid._registry": False,
        "pellucid._results": False,
        "pellucid.pkg._b": False,
        "pellucid.shapley": False,
        "pellucid.plots": True,
    }


def test_the_cycle_finder_finds_cycles_and_only_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_every_module_has_a_layer(graph):
    unplaced = [m for m in graph if not any(m == p or m.startswith(p + ".") for p in LAYERS)]
    assert not unplaced, f"Give these modules a layer in LAYERS: {unplaced}"


def test_no_import_reaches_a_higher_layer(graph):
    upward = [
        f"{src} (layer {LAYERS[component(src)]}) imports {dst} (layer {LAYERS[component(dst)]})"
        for src, deps in graph.items()
        for dst in deps
        if LAYERS[component(dst)] > LAYERS[component(src)] and (src, dst) not in ALLOWED
    ]
    assert not upward, "\n".join(upward)


def test_no_module_imports_the_top_level_namespace(graph):
    inward = [
        src
        for src, deps in graph.items()
        if "pellucid" in deps and (src, "pellucid") not in ALLOWED
    ]
    assert not inward, f"Import from the defining module, not from pellucid: {inward}"


def test_no_cycle_between_modules(graph):
    assert cycles(_runtime(graph)) == []


def test_no_cycle_between_packages(graph):
    packages: dict[str, set[str]] = defaultdict(set)
    for src, deps in _runtime(graph).items():
        for dst in deps:
            if component(src) != component(dst):
                packages[component(src)].add(component(dst))
    assert cycles(packages) == []


def test_render_modules_use_only_public_packages_and_the_core(graph):
    private = [
        f"{src} imports {dst}"
        for src, deps in graph.items()
        if src.startswith(RENDER)
        for dst in deps
        if LAYERS[component(dst)] > 0
        and component(dst) != component(src)
        and dst != component(dst)
        and (src, dst) not in ALLOWED
    ]
    assert not private, "\n".join(private)


def test_every_allowed_exception_is_still_needed(graph):
    stale = [edge for edge in ALLOWED if edge[1] not in graph.get(edge[0], {})]
    assert not stale, f"These imports are gone; delete them from ALLOWED: {stale}"


def test_version_has_one_home():
    from pellucid import __version__
    from pellucid._version import __version__ as defined

    assert __version__ is defined
    pyproject = (SRC.parent / "pyproject.toml").read_text(encoding="utf-8")
    # The [project] table's version line (tomllib needs Python 3.11; we support 3.10).
    assert re.search(r'^version = "([^"]+)"$', pyproject, re.M).group(1) == defined


# Result modules (pellucid._results, each package's _results, the card's _card_result)
# and the modules that write results out.
RESULT_MODULES = re.compile(r"(\._results|_result)$")
RENDER_MODULES = (
    "pellucid.plots",
    "pellucid.reporting._render",
    "pellucid.reporting._compare_render",
    "pellucid.regulatory._card_render",
)


def test_results_never_import_a_renderer(graph):
    results = [name for name in graph if RESULT_MODULES.search(name)]
    assert "pellucid.regulatory._card_result" in results and "pellucid._results" in results
    bad = [
        (src, dst)
        for src in results
        for dst, typing_only in graph[src].items()
        if not typing_only and dst.startswith(RENDER_MODULES)
    ]
    assert bad == [], f"results import renderers (name them by import path instead): {bad}"
