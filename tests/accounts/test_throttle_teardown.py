"""Flask-Limiter's per-request state is reset at the end of a request that made it, and not made only to be reset
by one that never did (a Socket.IO event runs in a request context without ``before_request``: accounts/throttle.py).
The login's limits themselves are checked in tests/security/test_app_security.py."""

from __future__ import annotations

from accounts.throttle import limiter


def test_the_limiters_state_is_reset_where_made_and_not_made_where_unused(app):
    with app.test_request_context("/login", method="POST"):
        state = limiter.context  # what the limiter's before_request fills on a throttled route
        state.seen_limits.add("a limit seen")
        state.conditional_deductions["a limit"] = ["key"]
    assert not state.seen_limits and not state.conditional_deductions  # the teardown reset it
    with app.test_request_context("/") as ctx:
        pass  # nothing here reached the limiter (as in a socket event)
    assert not hasattr(ctx, "_limiter_request_context")
