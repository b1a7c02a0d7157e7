"""Browser tests (issue 13): the dashboard fixtures of tests/dashboard/conftest.py, shared here.

``dash_engine`` / ``dash_app`` are the read-only warehouse (real regions + SYNTHETIC model outputs) and its
app; ``pytest_setup_options`` gives dash_duo's Chromium the flags it needs in a container.
"""

from tests.dashboard.conftest import (  # noqa: F401  re-exported as fixtures and the dash_duo hook
    _shared_dash_app,
    client,
    dash_app,
    dash_engine,
    external,
    pytest_setup_options,
    requested_urls,
)
