"""The suite's tiers, and the check that keeps tests in them.

`make test-fast` leaves out the tests marked `browser`, `fuzz`, `live_server` or `slow`
(pyproject.toml declares them). Most get their marker automatically (tests/conftest.py,
by where they live and which fixtures they use); the helpers that start a real server,
worker, browser or `make run` process call `require` so a test that starts one without
its marker fails at once, saying which marker to add, instead of slowing the fast tier.
"""

# The markers of the test being set up, run or torn down; None outside a test (a
# session-scoped fixture started before the first test, a script importing the helpers).
running: frozenset[str] | None = None


def require(marker: str, what: str) -> None:
    """Fail the running test unless it carries `marker`, since it starts `what`."""
    if running is not None and marker not in running:
        raise AssertionError(
            f"this test starts {what}: mark it `{marker}` (pytest.mark.{marker}, or a "
            f"module-level pytestmark) so `make test-fast` leaves it out"
        )
