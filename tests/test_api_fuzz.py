"""API fuzzing: schemathesis generates requests from ``/api/v1/openapi.json``.

Two runs, in-process (WSGI):

- every GET operation, anonymous, over the read-only dashboard test warehouse with public read (real regions,
  synthetic model outputs, see ``tests/dashboard/conftest.py``), ``MAX_EXAMPLES`` cases each;
- every operation, POST included, with an analyst's bearer token over a writable workflow app (its own
  warehouse, raw folder and registry, a fake fast trainer; see ``tests/dashboard/workflow_app.py``),
  ``ANALYST_EXAMPLES`` cases each (issue 9 #13: 401/403, OPTIONS, TRACE, blank and negative parameters).

Checks: no 5xx, status codes, content types, headers and bodies conform to the OpenAPI document (every
schemathesis check but ``positive_data_acceptance``).
"""

from __future__ import annotations

import pytest
import schemathesis
import schemathesis.specs.openapi.schemas  # noqa: F401 - see below
from hypothesis import HealthCheck, given, settings

from tests.dashboard.conftest import dash_engine  # noqa: F401 - the dashboard test warehouse (session fixture)

# schemathesis's OpenAPI modules are imported (and rewritten by pytest) while collecting, when no other thread
# runs: Python 3.11's ast.parse is not safe beside another thread's (a traceback formatted by a background
# thread broke that import once, when the fixture below made it).
MAX_EXAMPLES = 30
ANALYST_EXAMPLES = 12
# "Schema-valid request rejected" is not checked: some rules span parameters and OpenAPI 3.0 query
# parameters cannot express them (/indicators needs 'region' or 'indicator'; 'from' <= 'to'); those
# requests get a documented 400, which every other check still validates.
EXCLUDED = [schemathesis.checks.positive_data_acceptance]
# With the analyst token sent as a fixed header, "ignored_auth" replaces another credential (the session
# cookie)
# and still sees the valid token accepted; that anonymous and bad-token requests answer 401 on every route is
# asserted by tests/test_access_control.py.
ANALYST_EXCLUDED = [*EXCLUDED, schemathesis.checks.ignored_auth]


@pytest.fixture(scope="session")
def api_schema(dash_engine):  # noqa: F811 - the imported fixture
    from dashboard.app import create_app

    app = create_app(dash_engine, {"cache_ttl_s": 0, "public_read": True})
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app.server).include(method="GET")


def _operations(schema):
    for result in schema.get_all_operations():
        yield result.ok()


def test_get_endpoints_conform_to_the_openapi_document(api_schema):
    """Each GET operation: ``MAX_EXAMPLES`` generated cases, no 5xx, responses valid against the document."""
    failures = []
    operations = list(_operations(api_schema))
    assert {"/health", "/regions", "/predictions", "/explanations"} <= {op.path for op in operations}
    for operation in operations:

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(operation.as_strategy())
        def check(case):
            response = case.call(
                headers={"Accept-Encoding": "identity"}
            )  # the WSGI transport does not gunzip
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} {case.query}: {response.status_code}"
            )
            case.validate_response(response, excluded_checks=EXCLUDED)

        try:
            check()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)


@pytest.fixture(scope="module")
def analyst_schema(tmp_path_factory):
    """The whole document (POST included) against a writable app, with an analyst token for every request."""
    from tests.dashboard.workflow_app import FakeTrainer, workflow_app
    from warehouse import accounts

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("dashboard.workflows.train", FakeTrainer())
        with workflow_app(tmp_path_factory.mktemp("fuzz_analyst")) as (app, engine):
            token = accounts.create_token(engine, "ana", "schemathesis")
            yield schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app.server), token


def test_every_operation_with_an_analyst_token_conforms(analyst_schema):
    """Each operation (GET and POST): ``ANALYST_EXAMPLES`` cases with an analyst token, no 5xx, no
    violation."""
    schema, token = analyst_schema
    failures = []
    operations = list(_operations(schema))
    methods = {(op.method.upper(), op.path) for op in operations}
    assert {
        ("POST", "/uploads"),
        ("POST", "/retrain"),
        ("GET", "/jobs/{job_id}"),
        ("GET", "/regions"),
    } <= methods
    for operation in operations:

        @settings(
            max_examples=ANALYST_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(operation.as_strategy())
        def check(case):
            response = case.call(headers={"Accept-Encoding": "identity", "Authorization": f"Bearer {token}"})
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} {case.query}: {response.status_code}"
            )
            case.validate_response(response, excluded_checks=ANALYST_EXCLUDED)

        try:
            check()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
