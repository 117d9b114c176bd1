"""Settings from the environment: the defaults, and a bad value stopping start-up with one line
naming the variable (the API, `uvicorn`, the Kedro hook and the command-line tools)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stock_lstm.common.errors import InputError, SettingsError
from stock_lstm.common.settings import (
    DEFAULT_MAX_BODY_BYTES,
    PACKAGE_DIR,
    Settings,
    get_settings,
    mlflow_tracking_uri,
    project_root,
)

VARIABLES = [field.alias for field in Settings.model_fields.values()]


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No setting in the environment: every one at its default."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_the_variables_are_the_documented_ones() -> None:
    assert sorted(VARIABLES) == sorted(
        [
            "DATABASE_URL",
            "STOCK_LSTM_PROJECT_ROOT",
            "STOCK_LSTM_DATA_DIR",
            "KEDRO_ENV",
            "API_KEY",
            "API_KEY_NAME",
            "API_KEYS",
            "API_KEYS_FILE",
            "API_KEY_MAX_FAILURES",
            "API_KEY_FAILURE_WINDOW_SECONDS",
            "HEADER_TIMEOUT_SECONDS",
            "BODY_TIMEOUT_SECONDS",
            "MAX_HEADER_BYTES",
            "KEEP_ALIVE_SECONDS",
            "PREDICTION_SPOOL_DIR",
            "CORS_ORIGINS",
            "MAX_BODY_BYTES",
            "LOG_LEVEL",
            "MLFLOW_TRACKING_URI",
            "REGISTRY_POLL_SECONDS",
            "RUN_LOCK_WAIT_SECONDS",
            "LOG_DIR",
            "LOG_FILE_MAX_BYTES",
            "LOG_FILE_BACKUPS",
        ]
    )
    example = (Path(__file__).resolve().parents[1] / ".env.example").read_text()
    assert all(f"\n{name}=" in example for name in VARIABLES)


def test_defaults_are_absolute_paths_under_the_project_root(clean_environment) -> None:
    settings = get_settings()
    root = PACKAGE_DIR.parents[1]
    assert settings.project_root == root == project_root()
    assert settings.database_url == f"sqlite:///{root / 'data' / 'stock_lstm.db'}"
    assert settings.mlflow_tracking_uri == f"sqlite:///{root / 'data' / 'mlflow' / 'mlflow.db'}"
    assert settings.kedro_env is None and settings.api_key is None
    assert settings.api_key_name == "api-key"
    assert settings.cors_origins == ()
    assert settings.max_body_bytes == DEFAULT_MAX_BODY_BYTES == 512 * 1024
    assert settings.log_level == "INFO"
    assert settings.registry_poll_s == 2.0


def test_the_project_root_moves_the_defaults_and_empty_values_mean_the_default(
    clean_environment, tmp_path
) -> None:
    clean_environment.setenv("STOCK_LSTM_PROJECT_ROOT", str(tmp_path / "a" / ".." / "p"))
    for name in ("DATABASE_URL", "KEDRO_ENV", "API_KEY", "API_KEY_NAME", "MAX_BODY_BYTES"):
        clean_environment.setenv(name, "")
    settings = get_settings()
    assert settings.project_root == tmp_path / "p"
    assert settings.database_url == f"sqlite:///{tmp_path / 'p' / 'data' / 'stock_lstm.db'}"
    assert settings.mlflow_tracking_uri.startswith(f"sqlite:///{tmp_path / 'p' / 'data'}")
    assert (settings.kedro_env, settings.api_key, settings.api_key_name) == (None, None, "api-key")
    assert settings.max_body_bytes == DEFAULT_MAX_BODY_BYTES
    assert mlflow_tracking_uri(tmp_path) == f"sqlite:///{tmp_path / 'data/mlflow/mlflow.db'}"


def test_values_are_read_and_follow_the_environment(clean_environment) -> None:
    clean_environment.setenv("DATABASE_URL", "postgresql+psycopg://u@h:5432/db")
    clean_environment.setenv("CORS_ORIGINS", " http://a.example , ,https://b.example")
    clean_environment.setenv("MAX_BODY_BYTES", "1024")
    clean_environment.setenv("LOG_LEVEL", "debug")
    clean_environment.setenv("REGISTRY_POLL_SECONDS", "0.5")
    clean_environment.setenv("API_KEY", "s3cret-0123456789abcdef")
    clean_environment.setenv("KEDRO_ENV", "test")
    settings = get_settings()
    assert settings.database_url == "postgresql+psycopg://u@h:5432/db"
    assert settings.cors_origins == ("http://a.example", "https://b.example")
    assert settings.max_body_bytes == 1024
    assert settings.log_level == "DEBUG"
    assert settings.registry_poll_s == 0.5
    assert (settings.api_key, settings.kedro_env) == ("s3cret-0123456789abcdef", "test")

    clean_environment.setenv("MAX_BODY_BYTES", "2048")  # no stale value
    assert get_settings().max_body_bytes == 2048
    clean_environment.setenv("max_body_bytes", "1")  # names are exact
    assert get_settings().max_body_bytes == 2048


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("MAX_BODY_BYTES", "abc", "a positive whole number of bytes"),
        ("MAX_BODY_BYTES", "1.5", "a positive whole number of bytes"),
        ("MAX_BODY_BYTES", "0", "a positive whole number of bytes"),
        ("MAX_BODY_BYTES", "-1", "a positive whole number of bytes"),
        ("REGISTRY_POLL_SECONDS", "-1", "a number of seconds above 0"),
        ("REGISTRY_POLL_SECONDS", "0", "a number of seconds above 0"),
        ("REGISTRY_POLL_SECONDS", "soon", "a number of seconds above 0"),
        ("REGISTRY_POLL_SECONDS", "inf", "a number of seconds above 0"),
        ("LOG_LEVEL", "LOUD", "one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(
    clean_environment, name: str, value: str, expected: str
) -> None:
    clean_environment.setenv(name, value)
    with pytest.raises(SettingsError) as raised:
        get_settings()
    assert str(raised.value) == f"{name}: expected {expected}, got {value!r}"
    assert isinstance(raised.value, InputError)  # the Kedro hook prints it without a traceback


def test_every_bad_value_is_named_on_the_one_line(clean_environment) -> None:
    clean_environment.setenv("MAX_BODY_BYTES", "abc")
    clean_environment.setenv("LOG_LEVEL", "LOUD")
    with pytest.raises(SettingsError) as raised:
        get_settings()
    message = str(raised.value)
    assert "\n" not in message
    assert message == (
        "MAX_BODY_BYTES: expected a positive whole number of bytes, got 'abc'; "
        "LOG_LEVEL: expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'LOUD'"
    )


def test_a_kedro_run_stops_at_a_bad_setting(clean_environment, monkeypatch) -> None:
    from stock_lstm.hooks.input_errors import InputErrorHooks

    monkeypatch.setattr(sys, "excepthook", sys.__excepthook__)
    clean_environment.setenv("REGISTRY_POLL_SECONDS", "-1")
    with pytest.raises(SettingsError, match="^REGISTRY_POLL_SECONDS: "):
        InputErrorHooks().after_context_created(context=None)
    assert getattr(sys.excepthook, "handles_input_errors", False)  # it prints the one line


def test_the_command_line_tools_exit_with_the_line(clean_environment, capsys) -> None:
    from stock_lstm.cli.registry import main

    clean_environment.setenv("LOG_LEVEL", "LOUD")
    with pytest.raises(SystemExit) as raised:
        main(["list"])
    assert str(raised.value).startswith("Error: LOG_LEVEL: expected one of DEBUG")
    assert capsys.readouterr().out == ""


def test_create_app_refuses_a_bad_setting(clean_environment) -> None:
    from stock_lstm.api.app import create_app

    clean_environment.setenv("MAX_BODY_BYTES", "abc")
    with pytest.raises(SettingsError, match="^MAX_BODY_BYTES: expected a positive whole number"):
        create_app()


def test_uvicorn_exits_non_zero_with_the_line_on_stderr() -> None:
    environment = {**os.environ, "MAX_BODY_BYTES": "abc"}
    result = subprocess.run(
        [sys.executable, "-m", "uvicorn", "stock_lstm.api.app:app", "--port", "0"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert result.stderr.strip() == (
        "Error: MAX_BODY_BYTES: expected a positive whole number of bytes, got 'abc'"
    )
