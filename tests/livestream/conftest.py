"""Fixtures of the livestream tests."""

from __future__ import annotations

import pytest

from livestream.audience import audiences


@pytest.fixture
def quiet_takeover():
    """Leave the audiences' take-over state as found: no pass to come, no failure counted (a test's failures would
    delay the next test's passes)."""
    yield
    timer = audiences._adopt_timer
    if timer is not None:
        timer[0].cancel()
    audiences._adopt_failures = 0
    audiences._failing.clear()
    audiences._busy.clear()
