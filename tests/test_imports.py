"""The house: no import cycles, and lower layers never import higher ones.

Imports are read statically (ast), everywhere in a module: top level, inside functions
(the lazy imports that keep matplotlib and Dask out of a plain ``import selfassembly``),
absolute and relative. A lazy import still makes one module depend on the other, so it
counts like any other.

The layers of ``selfassembly``, lowest first (a module may import its own layer and the
ones below it, never one above):

0. ``selfassembly`` (the version), ``errors``, ``io``, ``idx``, ``datasets``: files and data
1. ``plasticity``: the rules and presets (plain data, no circuit)
2. ``circuits``: the Brian2 circuit and its numpy reference, built from a RuleSet
3. ``config``, ``binaries``: a run's configuration and the compiled binaries it reuses
4. ``analysis``: reading run folders and snapshots (alignment, motifs, verdict, statistics)
5. ``experiment``: training and the run folder
6. ``sweep``: the sweep engine, over experiment and analysis
7. ``cli``, ``__main__``: the command line
"""
import ast
import pkgutil
from pathlib import Path

import pytest

import selfassembly

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"

#: module-name prefix -> layer (longest prefix wins); see the module docstring
LAYERS = {
    "selfassembly": 0, "selfassembly.errors": 0, "selfassembly.io": 0, "selfassembly.idx": 0,
    "selfassembly.datasets": 0,
    "selfassembly.plasticity": 1,
    "selfassembly.circuits": 2,
    "selfassembly.config": 3, "selfassembly.binaries": 3,
    "selfassembly.analysis": 4,
    "selfassembly.experiment": 5,
    "selfassembly.sweep": 6,
    "selfassembly.cli": 7, "selfassembly.__main__": 7,
}


def package_modules():
    """``{module name: source path}`` of every module of the selfassembly package (packages as their __init__)."""
    mods = {"selfassembly": Path(selfassembly.__file__)}
    for info in pkgutil.walk_packages(selfassembly.__path__, "selfassembly."):
        spec = info.module_finder.find_spec(info.name)
        mods[info.name] = Path(spec.origin)
    return mods


def imported_names(path, module, is_package):
    """What ``path`` imports, anywhere in it: ``[(candidates, line), ...]``, absolute names.

    ``import a.b`` gives ``("a.b",)``; ``from X import y`` gives ``("X.y", "X")``: an edge to
    the submodule ``X.y`` where there is one, else to ``X`` (``y`` is a name defined in it).
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if is_package else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [((a.name,), node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                if node.level - 1 >= len(parts):
                    raise AssertionError(f"{path}:{node.lineno}: relative import beyond the top package")
                base = ".".join(parts[: len(parts) - (node.level - 1)])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module
            out += [((f"{base}.{a.name}", base), node.lineno) for a in node.names]
    return out


def import_graph(modules, is_package):
    """``{module: {imported module: first line}}``, restricted to ``modules`` (no self edges).

    The implicit import of a parent package is not an edge: every submodule has it, and a
    package's ``__init__`` importing its own submodules is not a cycle.
    """
    graph = {}
    for mod, path in modules.items():
        edges = {}
        for candidates, line in imported_names(path, mod, is_package(mod)):
            name = next((c for c in candidates if c in modules), None)
            if name is not None and name != mod:
                edges.setdefault(name, line)
        graph[mod] = edges
    return graph


def find_cycle(graph):
    """One import cycle as a list of modules (first == last), or None."""
    WHITE, GREY, BLACK = 0, 1, 2
    color = {m: WHITE for m in graph}
    stack = []

    def visit(m):
        color[m] = GREY
        stack.append(m)
        for n in sorted(graph[m]):
            if color.get(n, BLACK) == GREY:
                return stack[stack.index(n):] + [n]
            if color.get(n) == WHITE:
                found = visit(n)
                if found:
                    return found
        stack.pop()
        color[m] = BLACK
        return None

    for m in sorted(graph):
        if color[m] == WHITE:
            found = visit(m)
            if found:
                return found
    return None


def _describe(cycle, graph, modules):
    return " -> ".join(cycle) + "\n" + "\n".join(
        f"  {a} imports {b} at {modules[a].relative_to(ROOT) if modules[a].is_relative_to(ROOT) else modules[a]}:"
        f"{graph[a][b]}" for a, b in zip(cycle, cycle[1:]))


def layer(module):
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len, default=None)
    return LAYERS.get(best)


@pytest.fixture(scope="module")
def package():
    modules = package_modules()
    return modules, import_graph(modules, lambda m: modules[m].name == "__init__.py")


def test_the_walk_sees_every_module_and_its_lazy_imports(package):
    modules, graph = package
    files = {p.resolve() for p in (ROOT / "selfassembly").rglob("*.py")}
    assert files == {p.resolve() for p in modules.values()}
    # a function-level import, a relative one from a subpackage, and `from . import x`
    assert "selfassembly.experiment" in graph["selfassembly.sweep.execute"]
    assert "selfassembly.analysis.verdict" in graph["selfassembly.analysis.inspect"]
    assert "selfassembly.io" in graph["selfassembly.analysis.inspect"]


def test_no_import_cycles_in_the_package(package):
    modules, graph = package
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + _describe(cycle, graph, modules)


def test_lower_layers_never_import_higher_ones(package):
    modules, graph = package
    unplaced = [m for m in modules if layer(m) is None]
    assert not unplaced, f"modules without a layer (add them to LAYERS in {__file__}): {unplaced}"
    wrong = [f"{a} (layer {layer(a)}) imports {b} (layer {layer(b)}) at line {line}"
             for a, edges in graph.items() for b, line in edges.items() if layer(b) > layer(a)]
    assert not wrong, "layering broken:\n" + "\n".join(wrong)


def test_benchmarks_have_no_import_cycles():
    """The benchmark scripts import each other by file name (they run from benchmarks/).

    A script importing itself is not a cycle between two modules and is not counted.
    """
    modules = {p.stem: p for p in BENCHMARKS.glob("*.py")}
    graph = import_graph(modules, lambda m: False)
    assert graph, "no benchmark scripts found"
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle among the benchmarks: " + _describe(cycle, graph, modules)


def path_edits(path):
    """Lines of ``path`` that edit the import path: ``sys.path`` changed (insert, append, assignment)
    or ``PYTHONPATH`` set in ``os.environ``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        target = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = node.func.value  # sys.path.insert(...), os.environ.setdefault("PYTHONPATH", ...)
            if ast.unparse(target) == "os.environ" and any(
                    isinstance(a, ast.Constant) and a.value == "PYTHONPATH" for a in node.args):
                found.append(node.lineno)
                continue
        elif isinstance(node, (ast.Assign, ast.AugAssign)):
            for t in getattr(node, "targets", [getattr(node, "target", None)]):
                if isinstance(t, ast.Subscript) and ast.unparse(t.value) == "os.environ" and \
                        isinstance(t.slice, ast.Constant) and t.slice.value == "PYTHONPATH":
                    found.append(node.lineno)
                elif t is not None and ast.unparse(t) == "sys.path":
                    found.append(node.lineno)
        if target is not None and ast.unparse(target) == "sys.path":
            found.append(node.lineno)
    return sorted(set(found))


def test_benchmarks_never_edit_the_import_path(tmp_path):
    """The benchmarks import the package; their Dask workers need nothing but the package installed."""
    edits = {p.name: lines for p in sorted(BENCHMARKS.glob("*.py")) if (lines := path_edits(p))}
    assert not edits, f"benchmark scripts edit sys.path or PYTHONPATH at (file: lines) {edits}"
    planted = tmp_path / "planted.py"  # the checker sees each form of edit
    planted.write_text("import os, sys\nsys.path.insert(0, 'x')\nos.environ['PYTHONPATH'] = 'x'\n"
                       "sys.path = ['x']\nos.environ.setdefault('PYTHONPATH', 'x')\nsys.path.append('x')\n"
                       "print(sys.path)\n")
    assert path_edits(planted) == [2, 3, 4, 5, 6]


def test_a_planted_cycle_is_found(tmp_path):
    """The walker on a tiny package: a lazy relative back import closes a cycle, and it is reported."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from .b import g\n")
    (pkg / "a.py").write_text("from .sub import b\n")
    (pkg / "sub" / "b.py").write_text("import os\n\ndef g():\n    from ..a import f\n")
    modules = {"pkg": pkg / "__init__.py", "pkg.sub": pkg / "sub" / "__init__.py", "pkg.a": pkg / "a.py",
               "pkg.sub.b": pkg / "sub" / "b.py"}
    graph = import_graph(modules, lambda m: modules[m].name == "__init__.py")
    assert graph["pkg.a"] == {"pkg.sub.b": 1} and graph["pkg.sub"] == {"pkg.sub.b": 1}
    assert graph["pkg.sub.b"] == {"pkg.a": 4}
    assert find_cycle(graph) == ["pkg.a", "pkg.sub.b", "pkg.a"]
    (pkg / "sub" / "b.py").write_text("import os\n\ndef g():\n    pass\n")
    assert find_cycle(import_graph(modules, lambda m: modules[m].name == "__init__.py")) is None
