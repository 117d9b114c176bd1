"""The API app over a trained project, and the key its registry endpoints are given."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient

from stock_lstm.api.app import create_app
from tests.api.conftest import settings_for
from tests.conftest import TrainedProject

KEY = "test-key-0123456789abcdef"


@contextmanager
def app_client(project: TrainedProject, **overrides) -> Iterator[TestClient]:
    settings = settings_for(project.root, project.database_url, **overrides)
    with TestClient(create_app(settings)) as client:
        yield client
