"""The layering check of ``hybridfer/``: no import circles, no import from a layer above, and
no file above 700 lines.

Run it from the checkout::

    python tools/check_layers.py            # prints the graph's size and every violation
    python tools/check_layers.py --graph    # also every import, module by module

It reads the source with :mod:`ast` (it imports nothing), so every import counts: at module
level, inside functions (deferred imports) and under ``if TYPE_CHECKING:``. The exit status
is 1 when there is a violation. ``tests/test_layering.py`` runs the same checks.

The layers are data, below (:data:`LAYERS`), lowest first; they follow the data flow of
DESIGN.md: images are read, split into data sets, turned into features by networks or
handcrafted descriptors, classified, cached, evaluated, tuned, run as paper recipes and
served by ``predict`` and the command line. A module may import from its own layer and
from the layers below it.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "LAYERS",
    "MAX_LINES",
    "Import",
    "Report",
    "check",
    "import_graph",
    "layer_of",
    "main",
]

#: The layers, lowest first: each a tuple of module prefixes (a package stands for its
#: submodules too; the longest prefix decides). ``hybridfer`` is the top-level
#: ``__init__`` only (it defines ``__version__`` and imports nothing of the package).
#: Faces are found and aligned (``faces``, over torch detectors) before any feature is
#: computed, so they sit between the networks and the feature cache; video frames are
#: decoded beside still images. The feature cache serves the extractors, so it sits below them; saving and reading
#: fitted pipelines (``predict.saved``, ``predict.expects``) sit below evaluation, which
#: saves them, and predicting to CSV (the rest of ``predict``) above the recipes.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("hybridfer", "hybridfer._io", "hybridfer._messages", "hybridfer._compat"),
    ("hybridfer.images", "hybridfer.video"),
    ("hybridfer.data",),
    ("hybridfer.nn", "hybridfer.models"),
    ("hybridfer.faces",),
    ("hybridfer.cache",),
    ("hybridfer.extractors", "hybridfer.handcrafted"),
    ("hybridfer.classifiers",),
    ("hybridfer.predict.saved", "hybridfer.predict.expects"),
    ("hybridfer.evaluation",),
    ("hybridfer.tuning",),
    ("hybridfer.recipes",),
    ("hybridfer.predict",),
    ("hybridfer.cli", "hybridfer.__main__"),
)

#: The most lines a file in ``hybridfer/`` may have.
MAX_LINES = 700

PACKAGE = "hybridfer"


@dataclass(frozen=True)
class Import:
    """One import of a ``hybridfer`` module by another."""

    source: str  # the importing module
    target: str  # the imported module
    path: str  # the importing file, relative to the checkout
    line: int
    deferred: bool  # inside a function (run when it is called)
    type_only: bool  # under ``if TYPE_CHECKING:``

    def where(self) -> str:
        kind = " (in a function)" if self.deferred else ""
        kind += " (TYPE_CHECKING)" if self.type_only else ""
        return f"{self.path}:{self.line}: {self.source} imports {self.target}{kind}"


@dataclass
class Report:
    """What :func:`check` found."""

    modules: list[str]
    imports: list[Import]
    circles: list[list[Import]] = field(default_factory=list)
    upward: list[tuple[Import, int, int]] = field(default_factory=list)
    unlayered: list[str] = field(default_factory=list)
    long_files: list[tuple[str, int]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.circles or self.upward or self.unlayered or self.long_files)

    def lines(self) -> list[str]:
        """The report as text lines: a summary, then each violation."""
        out = [
            f"{len(self.modules)} modules, {len(self.imports)} imports between them, "
            f"{len(LAYERS)} layers"
        ]
        out.append(f"import circles: {len(self.circles)}")
        for k, cycle in enumerate(self.circles, 1):
            names = " -> ".join([cycle[0].source, *(i.target for i in cycle)])
            out.append(f"  circle {k}: {names}")
            out.extend(f"    {i.where()}" for i in cycle)
        out.append(f"imports from a layer above: {len(self.upward)}")
        for imp, low, high in self.upward:
            out.append(f"  {imp.where()}  [layer {low} imports layer {high}]")
        out.append(f"modules in no layer: {len(self.unlayered)}")
        out.extend(f"  {m} (add it to LAYERS in tools/check_layers.py)" for m in self.unlayered)
        out.append(f"files above {MAX_LINES} lines: {len(self.long_files)}")
        out.extend(f"  {p}: {n} lines" for p, n in self.long_files)
        return out


def module_files(root: Path) -> dict[str, Path]:
    """Module name -> file for every ``.py`` file under ``root / hybridfer``."""
    out = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, deferred: bool = False, type_only: bool = False):
    """(node, deferred, type_only) for every import statement below ``node``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, deferred, type_only
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            yield from _walk(child, True, type_only)
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.body:
                yield from _walk(ast.Module(body=[stmt], type_ignores=[]), deferred, True)
            for stmt in child.orelse:
                yield from _walk(ast.Module(body=[stmt], type_ignores=[]), deferred, type_only)
        else:
            yield from _walk(child, deferred, type_only)


def _existing(name: str, modules: Iterable[str]) -> str | None:
    """``name`` or its longest prefix that is a module of the package."""
    modules = set(modules)
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, modules):
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                yield _existing(alias.name, modules)
        return
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        name = ".".join([*base, node.module] if node.module else base)
    else:
        name = node.module or ""
    if not (name == PACKAGE or name.startswith(PACKAGE + ".")):
        return
    for alias in node.names:
        sub = f"{name}.{alias.name}"
        yield sub if sub in modules else _existing(name, modules)


def import_graph(root: Path) -> tuple[list[str], list[Import]]:
    """The modules of ``root / hybridfer`` and every import of one by another."""
    files = module_files(root)
    imports = []
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node, deferred, type_only in _walk(tree):
            for target in _targets(node, module, is_package, files):
                if target is None or target == module:
                    continue
                imports.append(
                    Import(
                        source=module,
                        target=target,
                        path=str(path.relative_to(root)),
                        line=node.lineno,
                        deferred=deferred,
                        type_only=type_only,
                    )
                )
    return list(files), _unique(imports)


def _unique(imports: list[Import]) -> list[Import]:
    seen, out = set(), []
    for imp in imports:
        key = (imp.source, imp.target, imp.line)
        if key not in seen:
            seen.add(key)
            out.append(imp)
    return out


def layer_of(module: str, layers: Sequence[Sequence[str]] = LAYERS) -> int | None:
    """The index of the layer of ``module`` (its longest matching prefix), or None."""
    best, best_len = None, -1
    for k, prefixes in enumerate(layers):
        for prefix in prefixes:
            # the bare package name matches the top-level __init__ only
            matches = module == prefix or (prefix != PACKAGE and module.startswith(prefix + "."))
            if matches and len(prefix) > best_len:
                best, best_len = k, len(prefix)
    return best


def _strongly_connected(nodes: list[str], edges: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative), those of two or more nodes."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = 0
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(edges.get(start, ())))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges.get(child, ()))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        out.append(sorted(component))
    return out


def _a_cycle(component: list[str], by_edge: dict[tuple[str, str], Import]) -> list[Import]:
    """One shortest circle through the first module of a strongly connected component."""
    members = set(component)
    start = component[0]
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for (a, b), _ in by_edge.items():
                if a != node or b not in members:
                    continue
                if b == start:
                    path = [b, a]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    path.reverse()  # start ... a, start
                    return [by_edge[(path[k], path[k + 1])] for k in range(len(path) - 1)]
                if b not in previous:
                    previous[b] = node
                    nxt.append(b)
        frontier = nxt
    return []


def check(root: str | Path, max_lines: int = MAX_LINES) -> Report:
    """Check the layering of ``root / hybridfer`` (``root``: the checkout)."""
    root = Path(root)
    modules, imports = import_graph(root)
    # The top-level __init__'s deferred imports are its lazy entry points (a PEP 562
    # ``__getattr__``: ``hybridfer.predict_faces``): they run when a user asks for the name,
    # never while the package loads, so they neither layer nor circle.
    imports = [i for i in imports if not (i.source == PACKAGE and i.deferred)]
    report = Report(modules=modules, imports=imports)
    edges: dict[str, list[str]] = {}
    by_edge: dict[tuple[str, str], Import] = {}
    for imp in imports:
        if (imp.source, imp.target) not in by_edge:
            by_edge[(imp.source, imp.target)] = imp
            edges.setdefault(imp.source, []).append(imp.target)
    for component in _strongly_connected(modules, edges):
        report.circles.append(_a_cycle(component, by_edge))
    report.unlayered = [m for m in modules if layer_of(m) is None]
    for imp in imports:
        low, high = layer_of(imp.source), layer_of(imp.target)
        if low is not None and high is not None and high > low:
            report.upward.append((imp, low, high))
    for path in module_files(root).values():
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > max_lines:
            report.long_files.append((str(path.relative_to(root)), n))
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "root", nargs="?", default=str(Path(__file__).resolve().parents[1]), help="the checkout"
    )
    parser.add_argument("--graph", action="store_true", help="also print every import")
    args = parser.parse_args(argv)
    report = check(args.root)
    if args.graph:
        for imp in report.imports:
            print(imp.where())
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
