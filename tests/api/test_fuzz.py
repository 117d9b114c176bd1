"""The API's own OpenAPI schema, fuzzed by schemathesis against the ASGI app (no server).

Valid and invalid requests are generated for every operation; each answer must not be a 5xx,
must match the schema (status code, content type, body), and every 4xx must carry a message.
The app serves the fixed project's champion (tests/helpers/fixed_project.py) over a private
copy of it, with an API key set, so the reload, promote and rollback endpoints are fuzzed too
(and never let in: the key is not guessed).
"""

from __future__ import annotations

import secrets

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.modes import GenerationMode

from stock_lstm.api.app import create_app
from tests.api.conftest import copy_served_project, settings_for
from tests.conftest import TrainedProject

MAX_EXAMPLES = 15  # per operation and generation mode: bounded, a few seconds in all


@pytest.fixture(scope="module")
def fuzzed_schema(fixed_project: TrainedProject, tmp_path_factory: pytest.TempPathFactory):
    project = copy_served_project(fixed_project, tmp_path_factory.mktemp("fuzz") / "project")
    global SERVER_FOLDER
    SERVER_FOLDER = str(project.root)
    app = create_app(
        settings_for(project.root, project.database_url, api_key=secrets.token_hex(16))
    )
    config = SchemathesisConfig.from_dict(
        {
            "checks": {
                # A 413 (body over MAX_BODY_BYTES) rejects a too-long `prices` list too.
                "negative_data_rejection": {"expected-statuses": [*REJECTIONS, 413]},
                # Valid per schema is not enough for 2xx: a history shorter than the model's
                # min_history, or an unknown ticker, is refused with a 4xx and a message.
                "positive_data_acceptance": {"enabled": False},
            }
        }
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


SERVER_FOLDER = "/"  # the fuzzed project's folder, set by the fixture
REJECTIONS = [400, 401, 403, 404, 405, 406, 409, 415, 422, 428, 429]
# (method, path, has inputs): operations without any input get no negative cases.
OPERATIONS = [
    ("GET", "/health", False),
    ("POST", "/api/v1/predict", True),
    ("GET", "/api/v1/tickers", False),
    ("GET", "/api/v1/prices/{ticker}", True),
    ("GET", "/api/v1/model", False),
    ("GET", "/api/v1/backtest", False),
    ("GET", "/api/v1/monitoring", True),  # ?ticker=
    ("POST", "/api/v1/model/reload", True),  # the X-API-Key header
    ("GET", "/api/v1/models", False),
    ("POST", "/api/v1/models/{version}/promote", True),
    ("POST", "/api/v1/models/rollback", True),  # the X-API-Key header
    ("GET", "/metrics", False),
]
CASES = [
    pytest.param(method, path, mode, id=f"{method} {path} {mode}")
    for method, path, has_inputs in OPERATIONS
    for mode in GenerationMode
    if has_inputs or mode is GenerationMode.POSITIVE
]


def every_4xx_carries_a_message(ctx, response, case) -> None:
    """The API's error body: a JSON object whose `detail` says what went wrong."""
    if 400 <= response.status_code < 500:
        body = response.json()
        assert isinstance(body, dict) and isinstance(body.get("detail"), str), body
        assert body["detail"].strip(), f"empty detail in a {response.status_code}"


def no_server_path(ctx, response, case) -> None:
    """No answer shows where the project lives on the server (issue 28, finding 5)."""
    assert SERVER_FOLDER not in response.text, response.text[:300]


def no_5xx(ctx, response, case) -> None:
    """The app is healthy here: any 5xx (even a documented 503) means the fuzzer broke it."""
    assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}"


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_the_api_survives_its_own_schema_fuzzed(fuzzed_schema, method, path, mode) -> None:
    operation = fuzzed_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same cases every run: a failure reproduces
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case) -> None:
        case.call_and_validate(
            additional_checks=[every_4xx_carries_a_message, no_5xx, no_server_path]
        )

    fuzz()


def test_every_operation_is_fuzzed(fuzzed_schema) -> None:
    operations = {
        (result.ok().method.upper(), result.ok().path)
        for result in fuzzed_schema.get_all_operations()
    }
    assert operations == {(method, path) for method, path, _ in OPERATIONS}
