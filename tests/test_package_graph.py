"""The package import graph (tools/package_graph.py): contacts owns the lifecycle and imports none of the
packages that react to it, and no new pair of packages starts importing each other."""

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


def test_no_more_pairs_of_packages_import_each_other():
    """A ratchet on the shortest cycles: 10 pairs imported each other before issue 14 (contacts <-> routing and
    contacts <-> tickets among them, both gone now); the number may only go down."""
    pg = _graph_module()
    pairs = pg.two_way_pairs(pg.build(ROOT))
    assert len(pairs) <= 10, pairs
    assert ("contacts", "routing") not in pairs and ("contacts", "tickets") not in pairs
