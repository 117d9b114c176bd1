"""The model registry (model_versions.status + model_version_events): candidates, one champion,
promotion, rollback, the audit trail, and what may be promoted (files present, sha256 match)."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from kedro.io import DatasetError
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from stock_lstm.common.errors import InputError
from stock_lstm.data_pipeline import crud, model_registry
from stock_lstm.data_pipeline.database import get_database
from stock_lstm.data_pipeline.datasets import ChampionDataset, ModelVersionDataset
from stock_lstm.data_pipeline.model_registry import PromotionRefused, artifact_versions
from stock_lstm.data_pipeline.orm_models import ModelVersion
from tests.helpers.database import crud_on
from tests.helpers.registry import record_version

A, B, C = "2026-01-01T00.00.00.000Z", "2026-01-02T00.00.00.000Z", "2026-01-03T00.00.00.000Z"
SERVING = ("onnx_model.onnx", "scaler_params.json", "interval_calibration.json")


def register(version: str, url: str, *, promote: bool = False, serving=None) -> None:
    record_version(
        url,
        version,
        parameters={"model": {"window": 10}},
        metrics={"summary": {}},
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
        record_version(database_url, version, training_fingerprint=fingerprint)
    assert crud_db.model_version_trained_from("f1").model_version == C  # the newer of A and C
    assert crud_db.model_version_trained_from("f2").model_version == B
    assert crud_db.model_version_trained_from("f2").training_fingerprint == "f2"
    assert crud_db.model_version_trained_from("f3") is None


def test_a_recorded_version_keeps_its_run_and_fingerprint_and_says_why_it_changed(
    database_url: str,
) -> None:
    crud_db = crud_on(database_url)
    record_version(database_url, A, mlflow_run_id="run-1", training_fingerprint="f1", promote=True)
    assert crud_db.get_model_version(A).status == "champion"
    assert [(e.to_status, e.reason) for e in crud_db.registry_events()] == [
        ("champion", "evaluated"),  # the default reason of a promotion by evaluation
        ("candidate", "evaluated"),
    ]
    record_version(database_url, A)  # re-evaluated: run and inputs kept
    again = crud_db.get_model_version(A)
    assert (again.mlflow_run_id, again.training_fingerprint) == ("run-1", "f1")
    record_version(database_url, B)
    assert crud_db.get_model_version(B).status == "candidate"
    assert [e.model_version for e in crud_db.registry_events(limit=2)] == [B, A]


# --- the evaluation's promotion policy, each branch and its audited reason --------------------

WINDOW = {"window_start": "2012-12-27", "window_end": "2013-03-01", "window_problem": None}


def comparison(version: str | None, problem: str | None = None, **mae: float) -> dict:
    return {**WINDOW, "champion_version": version, "champion_problem": problem, "mae": mae}


@pytest.mark.parametrize("policy", model_registry.PROMOTION_POLICIES)
def test_an_empty_registrys_first_version_is_promoted_whatever_the_policy(policy: str) -> None:
    decision = model_registry.promotion_decision(policy, comparison(None, candidate=9.0), A)
    assert decision == {"promote": True, "reason": "first version of an empty registry"}


@pytest.mark.parametrize("policy", model_registry.PROMOTION_POLICIES)
def test_each_policy_keeps_a_re_evaluated_champion(policy: str) -> None:
    decision = model_registry.promotion_decision(policy, comparison(A, candidate=1.0), A)
    assert decision == {"promote": False, "reason": "re-evaluated; already the champion"}


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("always", (True, "promote: always (the newest evaluated version wins)")),
        ("never", (False, "promote: never (promote it by hand)")),
    ],
)
def test_always_and_never_ignore_the_scores(policy: str, expected: tuple) -> None:
    # the candidate is worse for `always` and better for `never`: neither looks at the MAE
    scores = {"candidate": 2.0, "champion": 1.0} if policy == "always" else {"candidate": 0.5}
    decision = model_registry.promotion_decision(policy, comparison(A, **scores), B)
    assert (decision["promote"], decision["reason"]) == expected


@pytest.mark.parametrize(
    ("candidate", "champion", "promote", "reason"),
    [
        (1.23456789, 2.0, True, "MAE 1.23457 < champion old's 2"),
        (2.0, 2.0, False, "MAE 2 >= champion old's 2"),
        (3.5, 2.0, False, "MAE 3.5 >= champion old's 2"),
    ],
)
def test_if_better_promotes_only_a_lower_mae_on_the_unseen_window(
    candidate: float, champion: float, promote: bool, reason: str
) -> None:
    scores = comparison("old", candidate=candidate, champion=champion)
    decision = model_registry.promotion_decision("if_better", scores, B)
    assert decision == {
        "promote": promote,
        "reason": f"promote: if_better; {reason} (unseen window 2012-12-27..2013-03-01)",
    }


def test_if_better_replaces_a_champion_that_cannot_be_scored() -> None:
    scores = comparison(A, problem="its scaler is missing", candidate=9.0, champion=1.0)
    assert model_registry.promotion_decision("if_better", scores, B) == {
        "promote": True,
        "reason": f"promote: if_better; champion {A} cannot be scored: its scaler is missing",
    }


def test_if_better_keeps_the_champion_without_a_window_neither_model_saw() -> None:
    scores = {**comparison(A, candidate=0.1), "window_problem": "the split ends first"}
    assert model_registry.promotion_decision("if_better", scores, B) == {
        "promote": False,
        "reason": "promote: if_better; no window neither model saw: the split ends first; "
        f"champion {A} kept",
    }


def test_an_unknown_policy_is_refused_naming_the_choices() -> None:
    with pytest.raises(InputError) as refused:
        model_registry.promotion_decision("sometimes", comparison(None, candidate=1.0), A)
    assert str(refused.value) == (
        "evaluation.promote is 'sometimes'; use one of always, never, if_better"
    )


# --- a worker following the champion: RegistryListener on a fake PostgreSQL connection ------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now


class FakeConnection:
    """psycopg's connection as the listener uses it: `notifies` waits `timeout` seconds on the
    fake clock and yields the notifications scripted for that call."""

    def __init__(self, clock: FakeClock, script: list) -> None:
        self.clock, self.script = clock, script
        self.executed: list[str] = []
        self.waits: list[tuple[float, int]] = []
        self.closed = 0

    def execute(self, statement: str) -> None:
        self.executed.append(statement)

    def notifies(self, *, timeout: float, stop_after: int):
        self.waits.append((timeout, stop_after))
        if len(self.waits) > 20:  # a listener that never stops: fail instead of hanging
            raise RuntimeError("still listening after 20 waits")
        self.clock.now += timeout
        step = self.script.pop(0) if self.script else []
        if isinstance(step, Exception):
            raise step
        yield from step

    def close(self) -> None:
        self.closed += 1


class RecordingStop(threading.Event):
    def __init__(self) -> None:
        super().__init__()
        self.waited: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waited.append(timeout)
        return self.is_set()


@pytest.fixture
def listening(monkeypatch):
    """A PostgreSQL listener whose connections are fakes (returned, with what psycopg.connect
    was called with), on a fake clock."""
    import psycopg

    clock, connections, connects = FakeClock(), [], []

    def connect(conninfo: str, **options):
        connects.append((conninfo, options))
        connections.append(FakeConnection(clock, script))
        return connections[-1]

    script: list = []
    monkeypatch.setattr(psycopg, "connect", connect)
    monkeypatch.setattr(model_registry, "time", clock)
    database = SimpleNamespace(
        url="postgresql+psycopg://app:password@db:5432/stocks", backend="postgresql"
    )
    return model_registry.RegistryListener(database), script, connections, connects, clock


def test_a_listener_listens_on_the_registry_channel_in_autocommit(listening) -> None:
    listener, script, connections, connects, _ = listening
    script += [[], ["notified"]]
    listener.wait(5.0, RecordingStop())
    assert connects == [
        ("postgresql://app:password@db:5432/stocks", {"autocommit": True, "connect_timeout": 5})
    ]
    assert connections[0].executed == [f'LISTEN "{crud.REGISTRY_CHANNEL}"']
    # returns on the notification, in the second slice of at most LISTEN_SLICE_S
    assert connections[0].waits == [(0.5, 1), (0.5, 1)]
    listener.wait(5.0, RecordingStop())  # the connection is held for the worker's life
    assert len(connects) == 1


def test_a_listener_without_notification_returns_at_the_timeout(listening) -> None:
    listener, _, connections, _, clock = listening
    listener.wait(1.2, RecordingStop())
    assert [w for w, _ in connections[0].waits] == pytest.approx([0.5, 0.5, 0.2])
    assert clock.now == pytest.approx(101.2)


def test_a_stopped_listener_does_not_wait(listening) -> None:
    listener, _, connections, _, clock = listening
    stop = RecordingStop()
    stop.set()
    listener.wait(5.0, stop)
    assert connections[0].waits == [] and stop.waited == [] and clock.now == 100.0


def test_a_listener_whose_server_went_away_polls_then_reconnects(listening) -> None:
    listener, script, connections, connects, _ = listening
    script += [[], ConnectionError("server closed the connection")]
    stop = RecordingStop()
    listener.wait(2.0, stop)  # fails 1 s in: sleeps the second left, connection closed
    assert connections[0].closed == 1 and stop.waited == [pytest.approx(1.0)]
    listener.wait(2.0, RecordingStop())  # the next wait connects again
    assert len(connects) == 2
    script += [[], ConnectionError("gone again")]
    late = RecordingStop()
    listener.wait(1.0, late)  # fails at its deadline: no time left to sleep
    assert late.waited == [0.0] and connections[1].closed == 1


def test_a_sqlite_listener_only_sleeps(monkeypatch) -> None:
    import psycopg

    monkeypatch.setattr(psycopg, "connect", lambda *a, **k: pytest.fail("connected"))
    listener = model_registry.RegistryListener(SimpleNamespace(url="sqlite://", backend="sqlite"))
    stop = RecordingStop()
    listener.wait(3.0, stop)
    assert stop.waited == [3.0]
    listener.close()  # nothing to close


# --- where a version's serving files are: the environment's registry catalog entry -----------


def _catalog(conf: Path, entry: str) -> None:
    conf.mkdir(parents=True)
    (conf / "catalog.yml").write_text(entry)


REGISTRY_ENTRY = """
model_version_record:
  type: stock_lstm.data_pipeline.datasets.ModelVersionDataset
  serving_filepaths:
    onnx_model: data/{where}/model.onnx
"""


def test_serving_filepaths_are_the_environments_registry_entry(tmp_path: Path) -> None:
    _catalog(tmp_path / "conf" / "base", REGISTRY_ENTRY.format(where="base"))
    _catalog(tmp_path / "conf" / "staging", REGISTRY_ENTRY.format(where="staging"))
    found = model_registry.serving_filepaths(tmp_path, "staging")
    assert found == {"onnx_model": str(tmp_path.resolve() / "data" / "staging" / "model.onnx")}


@pytest.mark.parametrize(
    "catalog",
    ["other:\n  type: pandas.CSVDataset\n", REGISTRY_ENTRY.split("  serving_filepaths")[0]],
)
def test_a_catalog_without_the_registrys_serving_files_is_refused(
    tmp_path: Path, catalog: str
) -> None:
    _catalog(tmp_path / "conf" / "base", catalog)
    (tmp_path / "conf" / "staging").mkdir()
    with pytest.raises(DatasetError) as refused:
        model_registry.serving_filepaths(tmp_path, "staging")
    assert str(refused.value) == (
        "the catalog has no 'model_version_record' entry with serving_filepaths"
    )


def test_a_rollback_hands_back_the_checked_files_of_the_version_it_restores(
    tmp_path: Path, database_url: str
) -> None:
    paths = save_serving_files(tmp_path, A)
    save_serving_files(tmp_path, B)
    register(A, database_url, promote=True, serving=sha256s(tmp_path, A))
    register(B, database_url, promote=True, serving=sha256s(tmp_path, B))
    checked: list[dict] = []
    verified: dict[str, bytes] = {}
    with get_database(database_url).session() as session:
        result = model_registry.rollback(
            session, paths, actor="ops", load_check=checked.append, verified=verified
        )
    assert (result.champion, result.previous, result.changed) == (A, B, True)
    expected = {name.split(".")[0]: f"{A} {name}".encode() for name in SERVING}
    assert verified == expected and checked == [expected]
    assert crud_on(database_url).registry_events()[0].reason == crud.ROLLBACK_REASON.format(
        version=B
    )


def test_why_a_version_cannot_be_served_is_said_exactly(tmp_path: Path) -> None:
    paths = save_serving_files(tmp_path, A)
    good = sha256s(tmp_path, A)
    record = lambda **sha: SimpleNamespace(serving_sha256=sha)  # noqa: E731

    def why(found, verified=None) -> str | None:
        return model_registry.problem(found, A, paths, verified=verified)

    assert why(None) == (
        f"model version {A} is not in model_versions: run `kedro run --pipelines evaluation` on it"
    )
    assert why(record()) == f"model version {A} has no ONNX export recorded: retrain to serve it"
    assert why(record(onnx_model=good["onnx_model"])) == (
        f"model_versions records no sha256 for scaler_params of model version {A}"
    )
    wrong = {**good, "scaler_params": "ab" * 32}
    assert why(record(**wrong)) == (
        f"scaler_params of model version {A} has sha256 {good['scaler_params'][:12]}..., "
        "model_versions records abababababab...: refusing to load an artifact that is not the "
        "one evaluated"
    )
    verified: dict[str, bytes] = {}
    assert why(record(**good), verified) is None
    assert verified == {name.split(".")[0]: f"{A} {name}".encode() for name in SERVING}
    (tmp_path / "interval_calibration.json" / A / "interval_calibration.json").unlink()
    for checked in (None, {}):
        assert why(record(**good), checked) == (
            f"interval_calibration of model version {A} is missing (interval_calibration.json)"
        )


def test_promote_checks_files_then_loading_and_leaves_the_champion_alone(
    tmp_path: Path, database_url: str
) -> None:
    paths = save_serving_files(tmp_path, A)
    save_serving_files(tmp_path, B)
    register(A, database_url, promote=True, serving=sha256s(tmp_path, A))
    register(B, database_url, serving=sha256s(tmp_path, B))

    def promote(version: str, load_check) -> crud.Promotion:
        with get_database(database_url).session() as session:
            return model_registry.promote(
                session, version, paths, actor="ops", reason="why", load_check=load_check
            )

    def broken(files) -> None:
        raise ValueError(f"corrupt ({len(files)} files)")

    with pytest.raises(crud.UnknownModelVersion) as unknown:
        promote("nope", broken)
    assert str(unknown.value) == "unknown model version 'nope'"
    with pytest.raises(PromotionRefused) as refused:
        promote(B, broken)
    assert str(refused.value) == (
        f"model version {B} cannot be promoted: it does not load: corrupt (3 files)"
    )
    assert crud_on(database_url).champion_version() == A
    (tmp_path / "onnx_model.onnx" / A / "onnx_model.onnx").unlink()
    # the champion is not checked again: promoting it changes nothing
    assert promote(A, broken) == crud.Promotion(champion=A, previous=None, changed=False)
    done = promote(B, lambda files: None)
    assert (done.champion, done.previous, done.changed) == (B, A, True)
    [event] = crud_on(database_url).registry_events(limit=1)
    assert (event.model_version, event.reason, event.actor) == (B, "why", "ops")


def test_saved_artifacts_are_found_at_any_fsspec_url_with_or_without_a_final_slash(
    tmp_path: Path,
) -> None:
    import fsspec

    root = f"/{tmp_path.name}/onnx_model.onnx"  # the memory filesystem is per process
    for version in (A, B):
        fsspec.filesystem("memory").pipe(f"{root}/{version}/onnx_model.onnx", version.encode())
    for filepath in (f"memory://{root}", f"memory://{root}/"):
        assert model_registry.artifact_versions(filepath) == [B, A]
        assert model_registry.newest_artifact_version(filepath) == B
        assert model_registry.read_artifact(filepath, A) == A.encode()
        assert model_registry.artifact_sha256(filepath, A) == hashlib.sha256(A.encode()).hexdigest()
        assert model_registry.read_artifact(filepath, C) is None
    with pytest.raises(DatasetError) as none:
        model_registry.newest_artifact_version(f"memory://{root}.missing")
    assert str(none.value) == (
        f"no saved version of memory://{root}.missing: run `kedro run --pipelines training`"
    )
