"""Rollback serves the champion before the current one in the event log: repeated rollbacks
walk further back instead of swapping two versions (docs/operations.md, "The model registry")."""

from __future__ import annotations

import pytest

from stock_lstm.cli import registry as registry_cli
from stock_lstm.data_pipeline import model_registry
from stock_lstm.data_pipeline.database import get_database
from tests.helpers.database import crud_on
from tests.helpers.registry import record_version

A, B, C, D = (f"2026-01-0{day}T00.00.00.000Z" for day in (1, 2, 3, 4))


def register(url: str, version: str) -> None:
    record_version(url, version, metrics={"summary": {}}, promote=True, reason="test")


def rollback(url: str) -> str:
    """A rollback as the CLI and the API make it (their file and load checks stubbed out)."""
    with get_database(url).session() as session:
        result = model_registry.rollback(
            session, {}, actor="ops", load_check=lambda files: None, verified={}
        )
    return result.champion


@pytest.fixture
def no_file_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_registry, "problem", lambda *args, **kwargs: None)


def test_repeated_rollbacks_walk_back_through_the_champions(
    database_url: str, no_file_checks: None
) -> None:
    for version in (A, B, C):
        register(database_url, version)
    assert crud_on(database_url).previous_champion() == B
    assert rollback(database_url) == B
    assert crud_on(database_url).previous_champion() == A  # not C, the version rolled back from
    assert rollback(database_url) == A
    assert crud_on(database_url).previous_champion() is None
    with pytest.raises(model_registry.PromotionRefused, match="no previous champion"):
        rollback(database_url)
    assert crud_on(database_url).champion_version() == A


def test_a_promotion_after_a_rollback_is_rolled_back_to_the_rollback_target(
    database_url: str, no_file_checks: None
) -> None:
    for version in (A, B, C):
        register(database_url, version)
    assert rollback(database_url) == B
    register(database_url, D)  # a new champion on top of B
    assert crud_on(database_url).previous_champion() == B
    assert rollback(database_url) == B
    assert rollback(database_url) == A


def test_registry_list_says_whose_ratio_it_shows(database_url: str, capsys) -> None:
    metrics = {"summary": {"h1": {"max_mae_ratio": 1.0123}}}
    record_version(database_url, A, metrics=metrics, promote=True, reason="test")
    assert registry_cli._list(database_url) == 0
    assert "worst ticker's h1 MAE / naive 1.0123" in capsys.readouterr().out
