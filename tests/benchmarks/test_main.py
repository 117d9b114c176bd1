"""`python -m benchmarks`: a section that raises is recorded "failed" with its error (never
"skipped", never a crash that loses the others' figures); each section is stamped with its own
date, machine and commit, and sections carried over from an older run keep theirs."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

import benchmarks.__main__ as bench
from benchmarks.common import BenchmarkFailed, git_commit, machine


def _stamps():
    counter = itertools.count(1)
    return lambda: {"date": f"stamp-{next(counter)}", "machine": {"cores": 2}, "commit": None}


@pytest.fixture
def results_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "results.json"
    monkeypatch.setattr(bench, "RESULTS_PATH", path)
    monkeypatch.setattr(bench, "provenance", _stamps())
    return path


def _sections(monkeypatch: pytest.MonkeyPatch, **runs) -> None:
    monkeypatch.setattr(bench, "SECTIONS", {n: SimpleNamespace(run=r) for n, r in runs.items()})


def test_a_raising_section_is_recorded_failed_and_the_others_still_run(
    results_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(options):
        raise BenchmarkFailed("`kedro run` failed (exit 1)")

    def crashing(options):
        raise KeyError("interval_calibration")

    _sections(monkeypatch, first=broken, second=lambda o: {"figure": 1.5}, third=crashing)

    assert bench.main([]) == 1

    stored = json.loads(results_path.read_text())
    assert stored["first"]["status"] == "failed"
    assert stored["first"]["error"] == "BenchmarkFailed: `kedro run` failed (exit 1)"
    assert "skipped" not in stored["first"]
    assert stored["third"]["status"] == "failed"
    assert stored["third"]["error"] == "KeyError: 'interval_calibration'"
    assert "KeyError" in stored["third"]["traceback"]
    assert stored["second"]["status"] == "ok"
    assert stored["second"]["figure"] == 1.5


def test_every_section_gets_its_own_stamp_and_carried_over_ones_keep_theirs(
    results_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sections(monkeypatch, a=lambda o: {"x": 1}, b=lambda o: {"y": 2})
    assert bench.main([]) == 0
    first = json.loads(results_path.read_text())
    assert first["a"]["provenance"]["date"] == "stamp-1"
    assert first["b"]["provenance"]["date"] == "stamp-2"

    assert bench.main(["b"]) == 0  # only b runs again
    second = json.loads(results_path.read_text())
    assert second["a"] == first["a"]
    assert second["b"]["provenance"]["date"] == "stamp-3"


def test_an_unstamped_older_file_gives_its_sections_its_own_date_and_its_skips_are_failures(
    results_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results_path.write_text(
        json.dumps(
            {
                "created_at": "2026-12-01T02:45:19+00:00",
                "machine": {"cpus": 2},
                "storage": {"save_s": 0.57},
                "daily": {"skipped": "training the champion failed"},
            }
        )
    )
    _sections(monkeypatch, storage=lambda o: {}, daily=lambda o: {}, serving=lambda o: {"p": 1})

    assert bench.main(["serving"]) == 0

    stored = json.loads(results_path.read_text())
    legacy = {"date": "2026-12-01T02:45:19+00:00", "machine": {"cpus": 2}, "commit": None}
    assert stored["storage"] == {"status": "ok", "save_s": 0.57, "provenance": legacy}
    assert stored["daily"] == {
        "status": "failed",
        "error": "training the champion failed",
        "provenance": legacy,
    }
    assert stored["serving"]["provenance"]["date"] == "stamp-1"
    assert "created_at" not in stored and "machine" not in stored


def test_a_failed_section_carried_over_does_not_fail_a_run_of_another(
    results_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(options):
        raise RuntimeError("boom")

    _sections(monkeypatch, a=broken, b=lambda o: {"y": 2})
    assert bench.main(["a"]) == 1
    assert bench.main(["b"]) == 0
    assert json.loads(results_path.read_text())["a"]["status"] == "failed"


def test_git_commit_names_the_checkout_and_whether_tracked_files_changed(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=tmp_path,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    git("init", "-q")
    (tmp_path / "a.txt").write_text("one\n")
    git("add", "a.txt")
    git("commit", "-q", "-m", "one")
    (tmp_path / "untracked.txt").write_text("not a change of the code\n")
    assert git_commit(tmp_path) == {"sha": git("rev-parse", "HEAD"), "dirty": False}

    (tmp_path / "a.txt").write_text("two\n")
    assert git_commit(tmp_path)["dirty"] is True
    assert git_commit(tmp_path.parent / "nowhere") == {"sha": None, "dirty": None}


def test_machine_names_the_cpu_and_its_cores_without_importing_tensorflow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # importing it would raise
    found = machine()
    assert found["cores"] == os.cpu_count()
    assert found["cpu_model"]


def test_concurrency_sets_the_throughput_phases_and_a_bad_one_is_refused(
    results_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list = []
    _sections(monkeypatch, serving=lambda options: asked.append(options) or {})

    assert bench.main(["serving", "--concurrency", "2", "8"]) == 0
    assert bench.main(["serving"]) == 0
    assert [options.concurrency for options in asked] == [(2, 8), (4, 16)]

    for bad in ("0", "many"):
        with pytest.raises(SystemExit) as usage:
            bench.main(["serving", "--concurrency", bad])
        assert usage.value.code == 2
        assert f"{bad!r} is not a number of requests (1 or more)" in capsys.readouterr().err
