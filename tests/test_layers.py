"""Layers point down: read every import of services/ and dash_app/ and fail on one that points up.

Three rules (README, Layout): no module of `services/` imports the web (Dash, Flask, `dash_app`);
a module imports its own layer or a layer of a lower tier, never a higher one nor a sibling of its
own tier; and no two modules import each other, directly or round a circle. Imports are read with
`ast` at any depth: inside a function or under `if TYPE_CHECKING:` an import is still a dependency.
Importing `a.b.c` from outside package `a.b` also counts as importing `a.b`: Python runs its
`__init__` first (that is how `services.jobs` re-exporting its modules closed circles before).

When a module moves, change its prefix below; a new module must be placed before this test passes.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("services", "dash_app")

# The layers, lowest tier first: the one place that says which module belongs where. A module may
# import modules of its own layer and of any layer in a lower tier. Layers that share a tier know
# nothing of each other. A name stands for that module or package and everything under it (the longest
# matching name wins); `pkg.__init__` stands for the package's own file only.
TIERS: list[dict[str, tuple[str, ...]]] = [
    # settings, database and migrations, logging, errors, tunables, a full disk: everything stands on these
    {"platform": ("services.__init__", "services.platform")},
    # what the house knows and keeps, each on its own: hosts (the hosts file, SSH, whether a host can
    # run AF3: the claim reads preflight results), people (accounts, tokens, rate limits), AlphaFold 3
    # (inputs, progress and failures in its words, the simulator), and the results a run leaves
    {"hosts": ("services.hosts",),
     "people": ("services.people",),
     "af3": ("services.af3", "services.af3sim"),
     "results": ("services.results",)},
    # the structure predictors beside AlphaFold 3 (issue 29): each engine's input writer, output reader,
    # log words and stand-in, over AF3's job model, its simulator's layout and the results model
    {"engines": ("services.engines",)},
    # the queue and its rules (services.jobs.rules: limits, quota, approval, placement, why a job waits,
    # wording), jobs and their log, and the MSA cache the claim routes by. It knows nothing of who runs its jobs.
    {"queue": ("services.jobs", "services.msa")},
    # running jobs and watching hosts: the worker and its executors, host metrics
    {"running": ("services.running", "services.metrics")},
    # operations over both: deleting jobs, retention, admin, accounts, approvals and maintenance as an
    # admin sees them, imports, backup, notifications, the sampler process
    {"operations": ("services.operations", "services.notify"),
     # screens (issue 26): a group of jobs submitted, watched and fetched as one; beside operations
     "screens": ("services.screens",)},
    # the commands from before the regroup (python -m services.worker, ...), kept so scripts and units still run
    {"entry points": ("services.worker", "services.sampler", "services.backup", "services.users",
                      "services.msa_cache", "services.preflight")},
    # the web app adapts all of the above to pages
    {"web": ("dash_app",)},
]

# What services/ never imports: it is plain Python, usable from a shell without the web app.
WEB_PACKAGES = ("dash", "dash_app", "flask", "plotly")
WEB_PREFIXES = ("dash_", "flask_")


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the most specific module the statement names (a module of ours or a top-level package)
    line: int


def module_files(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    """Return dotted module name -> file for every .py file under `packages` (a package is its __init__)."""
    out = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _resolve(name: str, modules: dict[str, Path]) -> str:
    """Return the longest prefix of `name` that is one of our modules, else its top-level package."""
    probe = name
    while probe:
        if probe in modules:
            return probe
        probe = probe.rpartition(".")[0]
    return name.partition(".")[0]


def imports(root: Path, packages: tuple[str, ...] = PACKAGES) -> list[Import]:
    """Return every import statement of every module under `packages`, at any depth."""
    modules = module_files(root, packages)
    found = []
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: climb from this module's package
                    up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join(up + ([node.module] if node.module else []))
                # `from services import jobs` names the module services.jobs; `from x import name` names x
                names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            else:
                continue
            for name in dict.fromkeys(names):
                target = _resolve(name, modules)
                for loaded in (*_packages_run_first(target, module, modules), target):
                    if loaded != module:
                        found.append(Import(module, loaded, node.lineno))
    return found


def _packages_run_first(target: str, importer: str, modules: dict[str, Path]) -> list[str]:
    """Return the packages whose __init__ Python runs before `target` (a.b for a.b.c), except the importer's own."""
    parts = target.split(".")
    outer = [".".join(parts[:n]) for n in range(1, len(parts))]
    return [p for p in outer if p in modules and importer != p and not importer.startswith(p + ".")]


def layer_of(module: str, tiers: list[dict[str, tuple[str, ...]]] = TIERS) -> tuple[int, str] | None:
    """Return (tier, layer) of a module by its longest listed prefix; None when no layer lists it."""
    best = None
    for tier, layers in enumerate(tiers):
        for layer, prefixes in layers.items():
            for prefix in prefixes:
                if (module in (prefix, prefix.removesuffix(".__init__")) if prefix.endswith(".__init__")
                        else module == prefix or module.startswith(prefix + ".")) and (
                        best is None or len(prefix) > len(best[0])):
                    best = (prefix, tier, layer)
    return None if best is None else best[1:]


def web_imports(found: list[Import]) -> list[str]:
    """Return "module:line imports dash" for each import of the web by a module of services/."""
    return [f"{i.module}:{i.line} imports {i.target}" for i in found
            if i.module.split(".")[0] == "services"
            and (i.target.split(".")[0] in WEB_PACKAGES or i.target.startswith(WEB_PREFIXES))]


def unplaced(modules: list[str], tiers: list[dict[str, tuple[str, ...]]] = TIERS) -> list[str]:
    """Return the modules no layer lists."""
    return [m for m in modules if layer_of(m, tiers) is None]


def upward(found: list[Import], tiers: list[dict[str, tuple[str, ...]]] = TIERS) -> list[str]:
    """Return "a:line (queue) imports b (operations)" for each import of a higher tier or a sibling layer."""
    bad = []
    for i in found:
        here, there = layer_of(i.module, tiers), layer_of(i.target, tiers)
        if here is None or there is None or here[1] == there[1]:
            continue  # outside our packages, or within one layer
        if there[0] >= here[0]:
            bad.append(f"{i.module}:{i.line} ({here[1]}) imports {i.target} ({there[1]})")
    return bad


def cycles(found: list[Import]) -> list[list[str]]:
    """Return one circle of imports per strongly connected group of modules, each as a path a -> b -> a."""
    graph: dict[str, set[str]] = {}
    for i in found:
        graph.setdefault(i.module, set()).add(i.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm; the graph is a few hundred modules deep at most
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_circle(graph, group) for group in groups]


def _circle(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """Return a shortest path from the group's first module back to itself, through the group."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt_frontier = []
        for node in frontier:
            for nxt in sorted(graph.get(node, set()) & group):
                if nxt == start:
                    return paths[node] + [start]
                if nxt not in paths:
                    paths[nxt] = paths[node] + [nxt]
                    nxt_frontier.append(nxt)
        frontier = nxt_frontier
    raise AssertionError(f"no circle through {start}")  # a strongly connected group always has one


@pytest.fixture(scope="module")
def found() -> list[Import]:
    """The imports of this checkout, read once for the tests below."""
    return imports(ROOT)


def test_services_never_import_the_web(found):
    bad = web_imports(found)
    assert not bad, "services/ is plain Python:\n" + "\n".join(bad)


def test_every_module_has_a_layer():
    bad = unplaced(list(module_files(ROOT)))
    assert not bad, "place these modules in TIERS (tests/test_layers.py):\n" + "\n".join(bad)


def test_imports_point_down(found):
    bad = upward(found)
    assert not bad, "imports against the layers (README, Layout):\n" + "\n".join(bad)


def test_no_import_circles(found):
    bad = [" -> ".join(c) for c in cycles(found)]
    assert not bad, "modules that import each other:\n" + "\n".join(bad)


def test_the_rules_catch_what_they_are_for(tmp_path):
    """Each rule fails on a small tree that breaks it: a web import, upward imports, circles (one through a
    package's __init__), a module no layer lists."""
    files = {
        "services/__init__.py": "",
        "services/platform/defaults.py": "import dash\n",
        "services/jobs/__init__.py": "from services.jobs.model import Job\n",
        "services/jobs/model.py": "def f():\n    from services.operations import maintenance\n",
        "services/operations/maintenance.py": "from services import jobs\n",
        "services/people/users.py": "from services.af3 import x\n",
        "services/af3/__init__.py": "from services.af3sim import progress\nx = 1\n",
        "services/orphan.py": "",
        "services/af3sim/progress.py": "from services.af3.size import y\n",  # runs services/af3/__init__.py first
        "services/af3/size.py": "y = 2\n",
        "dash_app/__init__.py": "from services.jobs import model\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    found = imports(tmp_path)
    assert web_imports(found) == ["services.platform.defaults:1 imports dash"]
    assert sorted(upward(found)) == [
        "services.jobs.model:2 (queue) imports services.operations.maintenance (operations)",
        "services.people.users:1 (people) imports services.af3 (af3)"]
    assert sorted(cycles(found)) == [
        ["services.af3", "services.af3sim.progress", "services.af3"],
        ["services.jobs", "services.jobs.model", "services.operations.maintenance", "services.jobs"]]
    assert unplaced(list(module_files(tmp_path))) == ["services.orphan"]
