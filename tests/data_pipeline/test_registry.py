"""The model registry (model_versions.status + model_version_events): candidates, one champion,
promotion, rollback, the audit trail, and what may be promoted (files present, sha256 match)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from stock_lstm.data_pipeline import crud, model_registry
from stock_lstm.data_pipeline.database import get_database
from stock_lstm.data_pipeline.datasets import ChampionDataset, ModelVersionDataset
from stock_lstm.data_pipeline.model_registry import PromotionRefused, artifact_versions
from stock_lstm.data_pipeline.orm_models import ModelVersion
from tests.helpers.database import crud_on

A, B, C = "2026-01-01T00.00.00.000Z", "2026-01-02T00.00.00.000Z", "2026-01-03T00.00.00.000Z"
SERVING = ("onnx_model.onnx", "scaler_params.json", "interval_calibration.json")


def register(version: str, url: str, *, promote: bool = False, serving=None) -> None:
    crud_on(url).record_model_version(
        model_version=version,
        trained_at=datetime(2026, 1, 1, tzinfo=UTC),
        data_version_id=None,
        parameters={"model": {"window": 10}},
        metrics={"summary": {}},
        model_sha256="0" * 64,
        scaler_sha256="1" * 64,
        serving_sha256=serving,
        promote=promote,
        reason="test",
    )


def test_promotion_retires_the_champion_and_audits_every_change(database_url: str) -> None:
    register(A, database_url, promote=True)
    register(B, database_url)
    assert crud_on(database_url).champion_version() == A
    assert [v.status for v in crud_on(database_url).list_model_versions()] == [
        "candidate",
        "champion",
    ]

    result = crud_on(database_url).promote_model_version(B, reason="better", actor="ops")
    assert (result.champion, result.previous, result.changed) == (B, A, True)
    assert crud_on(database_url).champion_version() == B
    assert crud_on(database_url).get_model_version(A).status == "retired"
    events = crud_on(database_url).registry_events()
    assert [(e.model_version, e.from_status, e.to_status, e.actor) for e in events] == [
        (B, "candidate", "champion", "ops"),
        (A, "champion", "retired", "ops"),
        (B, None, "candidate", "evaluation"),
        (A, "candidate", "champion", "evaluation"),
        (A, None, "candidate", "evaluation"),
    ]
    assert events[0].reason == "better" and events[1].reason == f"replaced by {B}: better"

    # Promoting the champion is a no-op: nothing changes, nothing is recorded.
    again = crud_on(database_url).promote_model_version(B, reason="again", actor="ops")
    assert not again.changed and len(crud_on(database_url).registry_events()) == len(events)

    with pytest.raises(crud.UnknownModelVersion, match="unknown model version 'nope'"):
        crud_on(database_url).promote_model_version("nope", reason="x", actor="ops")


def test_rollback_goes_to_the_champion_before_this_one(database_url: str) -> None:
    assert crud_on(database_url).previous_champion() is None
    for version in (A, B, C):
        register(version, database_url, promote=True)
    assert crud_on(database_url).previous_champion() == B
    reason = crud.ROLLBACK_REASON.format(version=C)
    crud_on(database_url).promote_model_version(B, reason=reason, actor="cli")
    # not C, the version rolled back from (more in tests/data_pipeline/test_rollback.py)
    assert crud_on(database_url).previous_champion() == A


def test_the_database_allows_one_champion_only(database_url: str) -> None:
    register(A, database_url, promote=True)
    register(B, database_url)
    with pytest.raises(IntegrityError), get_database(database_url).session() as session:
        session.execute(
            update(ModelVersion).where(ModelVersion.model_version == B).values(status="champion")
        )
    assert crud_on(database_url).champion_version() == A


def test_re_evaluation_keeps_the_status(database_url: str) -> None:
    register(A, database_url, promote=True)
    register(A, database_url)  # evaluated again, no promotion
    assert crud_on(database_url).get_model_version(A).status == "champion"
    assert len(crud_on(database_url).registry_events()) == 2


def save_serving_files(root: Path, version: str) -> dict[str, str]:
    paths = {}
    for name in SERVING:
        path = root / name / version / name
        path.parent.mkdir(parents=True)
        path.write_bytes(f"{version} {name}".encode())
        paths[name.split(".")[0]] = str(root / name)
    return paths


def sha256s(root: Path, version: str) -> dict[str, str]:
    return {
        name.split(".")[0]: hashlib.sha256((root / name / version / name).read_bytes()).hexdigest()
        for name in SERVING
    }


def problem(dataset: ModelVersionDataset, url: str, version: str) -> str | None:
    with get_database(url).session() as session:
        record = crud.get_model_version(session, version)
        return model_registry.problem(record, version, dataset.serving_filepaths)


def test_only_complete_verified_versions_can_be_promoted(tmp_path: Path, database_url: str) -> None:
    paths = save_serving_files(tmp_path, A)
    save_serving_files(tmp_path, B)
    dataset = ModelVersionDataset(
        model_filepath=str(tmp_path / "m.keras"),
        scaler_filepath=str(tmp_path / "s.pkl"),
        serving_filepaths=paths,
        url=database_url,
    )
    saved = model_registry.saved_versions(dataset.serving_filepaths)
    assert saved == [B, A] == artifact_versions(paths["onnx_model"])
    assert "not in model_versions" in problem(dataset, database_url, A)
    register(A, database_url, promote=True, serving=sha256s(tmp_path, A))
    register(B, database_url, serving=sha256s(tmp_path, B))
    register(C, database_url)  # recorded before the ONNX export existed
    assert problem(dataset, database_url, A) is None and problem(dataset, database_url, B) is None
    assert "no ONNX export" in problem(dataset, database_url, C)

    (tmp_path / "onnx_model.onnx" / B / "onnx_model.onnx").write_bytes(b"tampered")
    with pytest.raises(PromotionRefused, match=f"{B} cannot be promoted: onnx_model .* sha256"):
        with get_database(database_url).session() as session:
            model_registry.promote(
                session,
                B,
                dataset.serving_filepaths,
                actor="ops",
                reason="x",
                load_check=lambda files: None,  # the sha256 check refuses first
            )
    (tmp_path / "onnx_model.onnx" / B / "onnx_model.onnx").write_bytes(
        f"{B} onnx_model.onnx".encode()
    )
    assert problem(dataset, database_url, B) is None
    (tmp_path / "scaler_params.json" / B / "scaler_params.json").unlink()
    assert "scaler_params of model version" in problem(dataset, database_url, B)
    assert crud_on(database_url).champion_version() == A

    with pytest.raises(PromotionRefused, match="no previous champion"):
        with get_database(database_url).session() as session:
            model_registry.rollback(
                session, dataset.serving_filepaths, actor="ops", load_check=lambda files: None
            )

    champion = ChampionDataset(
        model_filepath="unused",
        scaler_filepath="unused",
        serving_filepaths={"onnx_model": paths["onnx_model"]},
        url=database_url,
    ).load()
    assert (
        champion["model_version"] == A and champion["onnx_model"] == f"{A} onnx_model.onnx".encode()
    )


def test_migration_0003_retires_versions_without_onnx_and_matches_the_models(
    empty_database_url: str,
) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import text

    from stock_lstm.data_pipeline.database import get_database
    from stock_lstm.data_pipeline.migrations import alembic_config, upgrade
    from stock_lstm.data_pipeline.orm_models import Base

    engine = get_database(empty_database_url).engine
    upgrade(engine, "0001")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO model_versions (model_version, trained_at, parameters, metrics, "
                "model_sha256, scaler_sha256, created_at) VALUES "
                "(:v, :t, '{}', '{}', 'a', 'b', :t)"
            ),
            {"v": A, "t": datetime(2026, 1, 1, tzinfo=UTC)},
        )
    upgrade(engine, "head")
    assert crud_on(empty_database_url).get_model_version(A).status == "retired"
    [event] = crud_on(empty_database_url).registry_events()
    assert (event.to_status, event.actor) == ("retired", "migration 0003")
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
    upgrade(engine, "head")


def test_the_newest_version_trained_from_a_fingerprint_is_found(database_url: str) -> None:
    crud_db = crud_on(database_url)
    for version, fingerprint in ((A, "f1"), (B, "f2"), (C, "f1")):
        crud_db.record_model_version(
            model_version=version,
            trained_at=datetime(2026, 1, 1, tzinfo=UTC),
            data_version_id=None,
            parameters={},
            metrics={},
            model_sha256="0" * 64,
            scaler_sha256="1" * 64,
            training_fingerprint=fingerprint,
        )
    assert crud_db.model_version_trained_from("f1").model_version == C  # the newer of A and C
    assert crud_db.model_version_trained_from("f2").model_version == B
    assert crud_db.model_version_trained_from("f2").training_fingerprint == "f2"
    assert crud_db.model_version_trained_from("f3") is None


def test_a_recorded_version_keeps_its_run_and_fingerprint_and_says_why_it_changed(
    database_url: str,
) -> None:
    crud_db = crud_on(database_url)
    fields = dict(
        trained_at=datetime(2026, 1, 1, tzinfo=UTC),
        data_version_id=None,
        parameters={},
        metrics={},
        model_sha256="0" * 64,
        scaler_sha256="1" * 64,
    )
    crud_db.record_model_version(
        model_version=A, mlflow_run_id="run-1", training_fingerprint="f1", promote=True, **fields
    )
    assert crud_db.get_model_version(A).status == "champion"
    assert [(e.to_status, e.reason) for e in crud_db.registry_events()] == [
        ("champion", "evaluated"),  # the default reason of a promotion by evaluation
        ("candidate", "evaluated"),
    ]
    crud_db.record_model_version(model_version=A, **fields)  # re-evaluated: run and inputs kept
    again = crud_db.get_model_version(A)
    assert (again.mlflow_run_id, again.training_fingerprint) == ("run-1", "f1")
    crud_db.record_model_version(model_version=B, **fields)
    assert crud_db.get_model_version(B).status == "candidate"
    assert [e.model_version for e in crud_db.registry_events(limit=2)] == [B, A]
