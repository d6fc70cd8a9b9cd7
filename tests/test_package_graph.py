"""The package import graph (tools/package_graph.py): contacts owns the lifecycle and imports none of the
packages that react to it, no two packages import each other, and the packages form no cycle at all."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _graph_module():
    spec = importlib.util.spec_from_file_location("package_graph", ROOT / "tools" / "package_graph.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_contacts_imports_none_of_the_packages_that_react_to_its_lifecycle():
    """Routing, tickets, channels, console, livestream and the simulator call contacts' actions or register hooks
    (contacts.lifecycle.register_router, on_ended); contacts never imports them, not even inside a function."""
    pg = _graph_module()
    graph = pg.build(ROOT)
    reached = {b for (a, b) in graph.edges if a == "contacts"}
    assert reached.isdisjoint({"routing", "tickets", "channels", "console", "livestream", "simulator"}), reached


def test_no_pair_of_packages_imports_each_other():
    """The shortest cycles: ten pairs imported each other when issue 14's work on the graph began; none does now.
    A lower package that must reach a higher one offers a registry the higher one fills from its init_app."""
    pg = _graph_module()
    pairs = pg.two_way_pairs(pg.build(ROOT))
    assert len(pairs) == 0, pairs


def test_the_packages_form_no_cycle_and_fall_into_layers():
    """No cycle of any length (function-local imports count too): 15 packages were in one cycle group before;
    features sit above the core (accounts < contacts < scenarios < channels < simulator < grading)."""
    pg = _graph_module()
    graph = pg.build(ROOT)
    groups = pg.strongly_connected(graph.successors())
    assert groups == [], groups
    depth = {name: i for i, layer in enumerate(pg.layers(graph)) for name in layer}
    order = ["accounts", "contacts", "scenarios", "channels", "simulator", "grading"]
    assert [depth[n] for n in order] == sorted(depth[n] for n in order) and len({depth[n] for n in order}) == 6
