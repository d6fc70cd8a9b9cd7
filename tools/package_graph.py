"""The import graph among the project's top-level packages: its cycles, and the function-local imports.

    .venv/bin/python tools/package_graph.py          # a summary
    .venv/bin/python tools/package_graph.py --edges  # and every package -> package edge, with its import count
    .venv/bin/python tools/package_graph.py --sites grading scenarios  # where grading imports scenarios (and back)

A function-local import (``def f(): from routing.actions import ...``) is how a cycle hides: the modules load,
but the packages still depend on each other. So both kinds count as edges here, and the function-local ones are
also counted on their own. tests/test_package_graph.py keeps the figures from growing.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP = {"tests", "bench", "tools", "migrations", "node_modules", "static", "templates", "translations", "instance"}


def top_level_packages(root: Path = ROOT) -> set[str]:
    """Folders with an ``__init__.py`` and single modules at the top (app.py, extensions.py...)."""
    names = {p.name for p in root.iterdir() if p.is_dir() and (p / "__init__.py").exists() and p.name not in SKIP}
    names |= {p.stem for p in root.glob("*.py")}
    return names


@dataclass
class Graph:
    edges: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    local_imports: int = 0  # function-local imports of another project package
    local_imports_any: int = 0  # every function-local import of project code (same package too)
    local_by_edge: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    # (package, target) -> ["path:line local|top module"], every import that makes the edge
    sites: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))

    def successors(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = defaultdict(set)
        for a, b in self.edges:
            out[a].add(b)
        return out


def _imported(node: ast.AST, package: str, module_parts: list[str]) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name.split(".")[0] for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level:  # relative: inside the same top-level package unless it climbs out of it
            return [package] if node.level <= len(module_parts) else []
        return [(node.module or "").split(".")[0]]
    return []


def build(root: Path = ROOT) -> Graph:
    """Every import in every project module, as edges between top-level packages."""
    packages = top_level_packages(root)
    graph = Graph()
    for path in root.rglob("*.py"):
        rel = path.relative_to(root)
        if rel.parts[0] in SKIP or rel.parts[0].startswith("."):
            continue
        package = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        if package not in packages:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        module_parts = list(rel.parts[:-1])
        local_nodes: set[int] = set()
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for inner in ast.walk(node):
                if id(inner) in local_nodes:  # a nested function's imports count once
                    continue
                local_nodes.add(id(inner))
                for target in _imported(inner, package, module_parts):
                    if target in packages:
                        graph.local_imports_any += 1
                    if target in packages and target != package:
                        graph.local_imports += 1
                        graph.local_by_edge[(package, target)] += 1
        for node in ast.walk(tree):
            for target in _imported(node, package, module_parts):
                if target in packages and target != package:
                    graph.edges[(package, target)] += 1
                    where = "local" if id(node) in local_nodes else "top"
                    graph.sites[(package, target)].append(f"{rel}:{node.lineno} {where} {getattr(node, 'module', '')}")
    return graph


def strongly_connected(succ: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm: the groups of packages that all reach each other (size > 1 means a cycle)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[set[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(succ.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            out.append(group)

    sys.setrecursionlimit(max(1000, sys.getrecursionlimit()))
    for v in sorted(set(succ) | {w for ws in succ.values() for w in ws}):
        if v not in index:
            visit(v)
    return [g for g in out if len(g) > 1]


def two_way_pairs(graph: Graph) -> list[tuple[str, str]]:
    """Pairs of packages that import each other directly (the shortest cycles)."""
    return sorted((a, b) for (a, b) in graph.edges if a < b and (b, a) in graph.edges)


def layers(graph: Graph) -> list[list[str]] | None:
    """The packages in dependency order when the graph has no cycle: each layer imports only earlier ones
    (``layers[0]`` imports no project package). None while a cycle remains."""
    succ = graph.successors()
    names = set(succ) | {w for ws in succ.values() for w in ws}
    placed: dict[str, int] = {}
    while len(placed) < len(names):
        ready = [n for n in names - placed.keys() if all(w in placed for w in succ.get(n, ()))]
        if not ready:
            return None
        for n in ready:
            placed[n] = 1 + max((placed[w] for w in succ.get(n, ())), default=-1)
    out: list[list[str]] = [[] for _ in range(max(placed.values(), default=-1) + 1)]
    for n, depth in placed.items():
        out[depth].append(n)
    return [sorted(layer) for layer in out]


def summary(graph: Graph) -> dict:
    sccs = strongly_connected(graph.successors())
    return {
        "edges": len(graph.edges),
        "cyclic_groups": [sorted(g) for g in sccs],
        "packages_in_cycles": sum(len(g) for g in sccs),
        "two_way_pairs": two_way_pairs(graph),
        "function_local_imports": graph.local_imports,
        "function_local_imports_any": graph.local_imports_any,
    }


def main(argv: list[str]) -> int:
    graph = build()
    s = summary(graph)
    print(f"package -> package edges: {s['edges']}")
    print(f"packages in import cycles: {s['packages_in_cycles']}")
    for g in s["cyclic_groups"]:
        print("  cycle group:", ", ".join(g))
    print(f"pairs importing each other: {len(s['two_way_pairs'])}")
    for a, b in s["two_way_pairs"]:
        print(f"  {a} <-> {b}")
    print(f"function-local imports of another package: {s['function_local_imports']}")
    print(f"function-local imports of project code (any package): {s['function_local_imports_any']}")
    order = layers(graph)
    if order is not None:
        print("layers, lowest first (each imports only packages in the layers before it):")
        for i, layer in enumerate(order):
            print(f"  {i}: {', '.join(layer)}")
    if "--edges" in argv:
        for (a, b), n in sorted(graph.edges.items()):
            print(f"  {a} -> {b}: {n} ({graph.local_by_edge.get((a, b), 0)} function-local)")
    if "--sites" in argv:
        names = argv[argv.index("--sites") + 1 :][:2]
        for a, b in ((names[0], names[1]), (names[1], names[0])) if len(names) == 2 else ():
            for site in graph.sites.get((a, b), []):
                print(f"  {a} -> {b}  {site}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
