"""The project's layering rules, checked on the import graph read from the source with ``ast``.

Every ``.py`` file of the project (product packages, tb/, tests/) is parsed; every ``import`` and
``from ... import`` statement counts, at module level and inside functions, classes and ``if`` blocks,
relative imports resolved against the importing module's package. An edge goes to the most specific
project module named (``from hw import soc`` -> ``hw.soc``; ``from hw.soc import Soc`` -> ``hw.soc``).

Rules (one test each):

* golden/ imports nothing of the project but golden/;
* spec/ imports only spec/, and no Amaranth;
* hw/ imports only hw/ and spec/;
* driver/ (the pure-Python host side) imports only driver/, spec/ and golden/, and no Amaranth;
* no product package imports tb/ or tests/;
* tb/ imports nothing of tests/;
* no import cycles between project modules, nor between the top-level packages (a package cycle
  such as firmware/ -> boards/ -> firmware/ is a cycle between modules once a module moves).

A failure names the importing file, its line and the imported module.
"""

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PRODUCT = ("spec", "hw", "golden", "driver", "compiler", "firmware", "boards", "sim", "bench", "demo",
           "models")
TOP_LEVEL = (*PRODUCT, "tb", "tests")



def _module_name(path):
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _project_files():
    files = {}
    for top in TOP_LEVEL:
        for path in sorted((ROOT / top).rglob("*.py")):
            files[_module_name(path)] = path
    return files


FILES = _project_files()


def _resolve(name):
    """The most specific project module that ``name`` (dotted) names, or None if not of the project."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in FILES:
            return candidate
        parts.pop()
    return None


def _package(module, path):
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _imports(module, path):
    """[(line, imported dotted name, project module or None)] of one file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add((node.lineno, alias.name, _resolve_absolute(alias.name, path)))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package(module, path).split(".")
                base = base[:len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module
            for alias in node.names:
                # ``from hw import soc`` names the module hw.soc; ``from hw.soc import Soc`` names hw.soc.
                submodule = f"{prefix}.{alias.name}"
                target = submodule if submodule in FILES else _resolve_absolute(prefix, path)
                found.add((node.lineno, submodule if submodule in FILES else prefix, target))
    return sorted(found, key=lambda item: (item[0], item[1], item[2] or ""))


def _resolve_absolute(name, path):
    if name.split(".")[0] in TOP_LEVEL:
        return _resolve(name)
    # tests/ directories without __init__.py are put on sys.path by pytest (rootdir insertion):
    # ``import golden_scalar_ref`` beside it is a project module.
    sibling = path.parent / (name.split(".")[0] + ".py")
    if sibling.exists() and not (path.parent / "__init__.py").exists():
        return _module_name(sibling)
    return None


def _graph():
    """{module: [(line, imported name, target module)]} over all project files."""
    return {module: _imports(module, path) for module, path in FILES.items()}


GRAPH = _graph()


def _top(module):
    return module.split(".")[0]


def _where(module, line):
    return f"{FILES[module].relative_to(ROOT)}:{line}"


def _violations(importers, allowed_targets, forbidden_external=()):
    """Readable lines for every import of a module in ``importers`` that leaves ``allowed_targets``."""
    lines = []
    for module, imports in sorted(GRAPH.items()):
        if _top(module) not in importers:
            continue
        for line, name, target in imports:
            if target is not None and _top(target) not in allowed_targets:
                lines.append(f"{_where(module, line)}: {module} imports {target}")
            elif target is None and name.split(".")[0] in forbidden_external:
                lines.append(f"{_where(module, line)}: {module} imports {name}")
    return lines


def _check(lines, rule, count=None):
    if lines:
        count = len(lines) if count is None else count
        pytest.fail(f"{rule}; {count} violation(s):\n  " + "\n  ".join(lines), pytrace=False)


def test_files_found():
    # The graph is read from the files: a wrong ROOT would make every rule pass vacuously.
    assert {"hw.soc", "spec.config", "golden.conv", "tests.test_layering"} <= FILES.keys()
    assert any(target == "spec.config" for _, _, target in GRAPH["hw.soc"])


def test_golden_imports_only_golden():
    _check(_violations({"golden"}, {"golden"}), "golden/ may import nothing of the project but golden/")


def test_spec_imports_only_spec_and_no_amaranth():
    _check(_violations({"spec"}, {"spec"}, forbidden_external={"amaranth"}),
           "spec/ may import only spec/ (and no Amaranth)")


def test_hw_imports_only_hw_and_spec():
    _check(_violations({"hw"}, {"hw", "spec"}), "hw/ may import only hw/ and spec/")


def test_driver_imports_no_gateware():
    _check(_violations({"driver"}, {"driver", "spec", "golden"}, forbidden_external={"amaranth"}),
           "driver/ may import only driver/, spec/ and golden/ (and no Amaranth)")


def test_product_imports_no_tests():
    _check(_violations(set(PRODUCT), set(PRODUCT)), "the product may not import tb/ or tests/")


def test_tb_imports_no_tests():
    _check(_violations({"tb"}, {*PRODUCT, "tb"}), "tb/ may not import tests/")


def _edges():
    """{module: {target: line}} of project-internal edges (self-imports dropped)."""
    edges = defaultdict(dict)
    for module, imports in GRAPH.items():
        for line, _, target in imports:
            if target is not None and target != module:
                edges[module].setdefault(target, line)
    return edges


def _strongly_connected(edges):
    """Tarjan's algorithm, iterative: the components with more than one module."""
    index, low, on_stack, stack, components = {}, {}, set(), [], []
    counter = 0
    for start in sorted(FILES):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
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
                    work.append((child, iter(sorted(edges.get(child, ())))))
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
                        components.append(sorted(component))
    return components


def _shortest_cycle(edges, start, members):
    """The shortest path start -> ... -> start inside ``members`` (breadth first)."""
    previous = {start: None}
    queue = [start]
    for node in queue:
        for child in sorted(edges.get(node, ())):
            if child == start:
                path = [node]
                while previous[path[-1]] is not None:
                    path.append(previous[path[-1]])
                return [start, *reversed(path[:-1]), start] if len(path) > 1 else [start, node, start]
            if child in members and child not in previous:
                previous[child] = node
                queue.append(child)
    raise AssertionError(f"{start} is in a strongly connected component but on no cycle")


def _describe(edges, cycle):
    hops = [f"{a} ({_where(a, edges[a][b])}) -> {b}" for a, b in zip(cycle, cycle[1:], strict=False)]
    return "cycle: " + "; ".join(hops)


def test_no_import_cycles():
    edges = _edges()
    lines, count = [], 0
    for component in _strongly_connected(edges):
        members = set(component)
        cycles = set()
        for start in component:
            cycle = _shortest_cycle(edges, start, members)
            first = min(range(len(cycle) - 1), key=lambda i: cycle[i])
            rotated = tuple(cycle[first:-1] + cycle[:first] + [cycle[first]])
            cycles.add(rotated)
        lines.append(f"modules {', '.join(component)} import each other:")
        lines.extend(f"  {_describe(edges, list(cycle))}" for cycle in sorted(cycles))
        count += len(cycles)
    _check(lines, "project modules may not import each other in a cycle", count)


def test_no_package_cycles():
    packages = defaultdict(dict)   # top-level package -> {imported package: (module, line, target)}
    for module, targets in _edges().items():
        for target, line in targets.items():
            if _top(module) != _top(target):
                packages[_top(module)].setdefault(_top(target), (module, line, target))
    lines, seen = [], set()
    for start in sorted(packages):
        for middle in sorted(packages[start]):
            path = _package_path(packages, middle, start)
            if path is None:
                continue
            cycle = [start, *path]
            key = frozenset(zip(cycle, cycle[1:], strict=False))
            if key in seen:
                continue
            seen.add(key)
            hops = []
            for a, b in zip(cycle, cycle[1:], strict=False):
                module, line, target = packages[a][b]
                hops.append(f"{a}/ -> {b}/ ({_where(module, line)}: {module} imports {target})")
            lines.append("cycle: " + "; ".join(hops))
    _check(lines, "top-level packages may not import each other in a cycle")


def _package_path(packages, start, goal):
    """The shortest package path start -> ... -> goal, or None."""
    previous = {start: None}
    queue = [start]
    for node in queue:
        if node == goal:
            path = [node]
            while previous[path[-1]] is not None:
                path.append(previous[path[-1]])
            return path[::-1]
        for child in sorted(packages.get(node, ())):
            if child not in previous:
                previous[child] = node
                queue.append(child)
    return None
