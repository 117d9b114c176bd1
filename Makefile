# The README's two commands are `make run` and `make test`; every other target is a step of those.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# Optional dependency groups installed by setup: `train` (pipelines, TensorFlow), `serve` (the
# API, ONNX Runtime), `dev`. The container image installs EXTRAS=serve only.
EXTRAS ?= train,serve,dev

export KEDRO_DISABLE_TELEMETRY := 1
export DO_NOT_TRACK := 1
export MLFLOW_DISABLE_TELEMETRY := true
# ONNX Runtime (1.29+) would write a device id and an upload queue under ~/.cache/Microsoft, one
# SQLite file that concurrent processes (API workers, test runs) wait on.
export ORT_DISABLE_TELEMETRY := 1
# TensorFlow's C++ lines (start-up, and E0000 ones it prints while training) stay off the console.
export TF_CPP_MIN_LOG_LEVEL := 3
# oneDNN off: the same seed trains the same model on every CPU (src/stock_lstm/common/logging.py).
export TF_ENABLE_ONEDNN_OPTS := 0
export PYTHONDONTWRITEBYTECODE := 1
# The PostgreSQL tests run against this server; `make test TEST_DATABASE_URL=` skips them locally.
TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export TEST_DATABASE_URL

.PHONY: setup run pipeline serve test test-fast lint bench mutation backtest docs-reports tune interval-scope daily replay lock migrate clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt -e ".$(if $(EXTRAS),[$(EXTRAS)])"
	$(BIN)/python -m stock_lstm.cli.migrate upgrade
	touch $(STAMP)

migrate: setup
	$(BIN)/python -m stock_lstm.cli.migrate upgrade

# The pipelines' log files (docs/operations.md "Logs"): Kedro applies conf/json_logging.yml, whose handler
# and formatter classes it may load only from the allowlisted module. The API reads the same file.
pipeline backtest tune interval-scope daily replay: export KEDRO_LOGGING_CONFIG := $(CURDIR)/conf/json_logging.yml
pipeline backtest tune interval-scope daily replay: export KEDRO_LOGGING_MODULE_ALLOWLIST := stock_lstm.common.logging

# Extra `kedro run` arguments, e.g. KEDRO_ARGS="--params ingestion.source=csv" (snapshot only).
KEDRO_ARGS ?=
# make pipeline FORCE=1: train and evaluate even when the data, parameters and code are unchanged.
FORCE ?=

# Every pipeline of `kedro run`, training and evaluation only when their inputs changed
# (python -m stock_lstm.cli.pipeline; --env and --params in KEDRO_ARGS).
pipeline: setup
	$(BIN)/python -m stock_lstm.cli.pipeline $(KEDRO_ARGS) $(if $(FORCE),--params training.force=true)

# The guarded protocol (src/stock_lstm/api/server.py) cuts off slow and oversized request headers:
# HEADER_TIMEOUT_SECONDS, MAX_HEADER_BYTES, KEEP_ALIVE_SECONDS (.env.example).
SERVE_HTTP := stock_lstm.api.server:GuardedHttpToolsProtocol
serve: setup
	$(BIN)/uvicorn stock_lstm.api.app:app --host $(HOST) --port $(PORT) --workers 1 --no-access-log --http $(SERVE_HTTP)

run: pipeline serve

lint: setup
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/lint-imports
# The full suite, what CI runs: on two workers (the tests of the one trained test project share
# a worker, which trains it once), the 25 slowest tests listed (pyproject.toml addopts), and a
# coverage report whose total may not fall below the floor: CI, which runs every test, sets it to
# the full suite's measured 95 % of stock_lstm's statements (.ci/run; README "Tests"); 90 % by
# default leaves room for a local run without PostgreSQL or Chromium.
COVERAGE_FLOOR ?= 90
test: lint
	$(BIN)/pytest -n 2 --dist loadgroup --cov=stock_lstm --cov-report=term:skip-covered \
		--cov-fail-under=$(COVERAGE_FLOOR)

# The contributors' inner loop (tests/conftest.py): no trained model, Kedro run, PostgreSQL or
# browser; a test that imports TensorFlow or starts a subprocess is skipped there, saying so.
# Two workers, as `make test`.
test-fast: setup
	$(BIN)/pytest --fast -n 2 --dist loadgroup

# Test runs, the API and the benchmarks keep Python's bytecode (and pytest's rewritten test
# modules) in .venv/pycache, outside the tree: otherwise each run, each subprocess a test starts
# and each API worker compiles the project's modules again (a fifth of a worker's cold start).
test test-fast serve bench: export PYTHONDONTWRITEBYTECODE :=
test test-fast serve bench: export PYTHONPYCACHEPREFIX := $(CURDIR)/$(VENV)/pycache

# Every benchmark (docs/performance.md), or some: make bench BENCH=serving. Each section's
# figures go to benchmarks/results.json stamped with its date, machine and git commit; a section
# that fails is recorded "failed" with its error (and the command exits 1).
BENCH ?=
bench: setup
	$(BIN)/python -m benchmarks $(BENCH)

# Mutation testing (docs/mutation.md): mutmut changes the modules of [tool.mutmut] in pyproject.toml
# one mutant at a time and runs the fast tests that call the changed function (SQLite only), on one
# process; the report lists each module's score and every surviving mutant. Not in CI: it takes
# far longer than the suite (docs/mutation.md says how long). Results are cached in mutants/ and
# only changed functions run again; `rm -rf mutants` for a fresh run.
mutation: setup
	@start=$$(date +%s); TEST_DATABASE_URL= $(BIN)/mutmut run --max-children 1; \
		$(BIN)/python scripts/mutation_report.py --seconds $$(( $$(date +%s) - start ))

# Walk-forward backtest of every model (data/08_reporting/backtest.json); the data stages first,
# so it works on a fresh clone (on unchanged data they store nothing new). UNIVERSE=snapshot (the
# default: ^GSPC, GOOG, MSFT, ~5 min), sp500_20 or all (ingests the bundled 20 S&P 500 stocks
# too, then backtests every stored ticker of the universe plus your own).
# More parameters: PARAMS=ingestion.source=csv (Kedro keeps only the last --params, so not
# through KEDRO_ARGS). WORKERS=n: the fits as tasks of a local Dask cluster of n processes
# (backtest.workers; DASK_SCHEDULER_ADDRESS=tcp://host:8786 uses that cluster: docs/scaling.md).
UNIVERSE ?= snapshot
PARAMS ?=
comma := ,
backtest: setup
	$(BIN)/kedro run --pipelines ingestion,cleaning,feature_engineering,backtest \
		--params "ingestion.universe=$(UNIVERSE)$(if $(WORKERS),$(comma)backtest.workers=$(WORKERS))$(if $(PARAMS),$(comma)$(PARAMS))" $(KEDRO_ARGS)

# The figures the README and docs/results.md quote: extracts of the reports in data/08_reporting
# (those present) committed as docs/reports/*.json, and every generated table rendered from them
# (python -m stock_lstm.cli.headline --write-docs). Run it after make backtest, pipeline, tune or
# interval-scope; tests/test_report_docs.py checks the tables equal the committed extracts.
docs-reports: setup
	$(BIN)/python -m stock_lstm.cli.headline --write-docs

# Optuna search of training.model's knobs on validation folds of the period before the backtest's
# test folds: conf/tuned/parameters_training.yml (a suggestion, git-ignored: `--env tuned`) and
# data/08_reporting/tuning.json. The study (tuning.n_trials in all) resumes: on PostgreSQL
# (DATABASE_URL) in the database's schema `optuna`, shared by every `make tune` on it, else in
# data/07_model_output/optuna.journal. WORKERS=n: n processes add trials to it (tuning.workers,
# Dask tasks as the backtest's fits; docs/scaling.md "Tuning").
tune: setup
	$(BIN)/kedro run --pipelines ingestion,cleaning,feature_engineering,tuning \
		$(if $(WORKERS)$(PARAMS),--params "$(if $(WORKERS),tuning.workers=$(WORKERS)$(if $(PARAMS),$(comma)))$(PARAMS)") $(KEDRO_ARGS)

# Coverage of each interval calibration scope (pooled, per ticker) on the development folds, and
# the scope the fixed criterion picks: data/08_reporting/interval_scope.json (a report only).
interval-scope: setup
	$(BIN)/kedro run --pipelines ingestion,cleaning,feature_engineering,interval_scope $(KEDRO_ARGS)
# The daily loop (docs/operations.md "The daily loop"): new bars -> cleaning -> features -> monitoring, then
# training and evaluation (promotion if_better) only when the stored decision says retrain.
daily: setup
	$(BIN)/python -m stock_lstm.cli.daily $(if $(KEDRO_PARAMS),--params "$(KEDRO_PARAMS)")

# Replay the bundled snapshot day by day: make replay FROM=2008-10-01 DAYS=21. Everything under
# data/replay/ (its database, models, reports, MLflow runs): the replay sets the stored history
# back to FROM, so never in the main data folder. REPLAY_DATABASE_URL names another database.
FROM ?=
DAYS ?= 21
REPLAY_DATABASE_URL ?=
replay: setup
	@test -n "$(FROM)" || { echo "usage: make replay FROM=YYYY-MM-DD DAYS=N"; exit 2; }
	$(BIN)/python -m stock_lstm.cli.daily --replay-from $(FROM) --days $(DAYS) \
		$(if $(REPLAY_DATABASE_URL),--database-url "$(REPLAY_DATABASE_URL)") \
		$(if $(KEDRO_PARAMS),--params "$(KEDRO_PARAMS)")

# The Airflow DAGs run for real (docs/scaling.md, "The pipelines on Airflow"): an environment of
# their own (.venv-airflow, constraints-airflow.txt: Airflow pins fastapi below the API's, so
# the `train` extra only), the DAGs written by `kedro airflow create`, then `airflow dags test`
# of the full DAG (env test) and of the daily DAG for two replayed days, on a SQLite metadata
# database and the PostgreSQL database AIRFLOW_TEST_DATABASE_URL (dropped and created again).
AIRFLOW_VENV := .venv-airflow
AIRFLOW_TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/airflow_data
.PHONY: airflow-test lock-airflow

$(AIRFLOW_VENV)/.installed: pyproject.toml constraints-airflow.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11"; exit 1; }
	test -x $(AIRFLOW_VENV)/bin/python || $(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/pip install --quiet -c constraints-airflow.txt apache-airflow kedro-airflow -e ".[train]"
	touch $@

airflow-test: $(AIRFLOW_VENV)/.installed
	AIRFLOW_TEST_DATABASE_URL=$(AIRFLOW_TEST_DATABASE_URL) $(AIRFLOW_VENV)/bin/python deploy/airflow/airflow_test.py

# Re-resolve constraints-airflow.txt: constraints.txt without the API's pins, plus Airflow.
AIRFLOW_VERSION ?= 3.3.2
SERVE_PINS := ^(fastapi|fastapi[-_]offline|starlette|prometheus-fastapi-instrumentator|uvicorn)==
lock-airflow:
	rm -rf /tmp/stock-lstm-lock-airflow && $(PYTHON) -m venv /tmp/stock-lstm-lock-airflow
	grep -viE '$(SERVE_PINS)' constraints.txt > /tmp/stock-lstm-lock-airflow/constraints.txt
	/tmp/stock-lstm-lock-airflow/bin/pip install --quiet -c /tmp/stock-lstm-lock-airflow/constraints.txt \
		"apache-airflow==$(AIRFLOW_VERSION)" kedro-airflow -e ".[train]"
	{ echo "# Exact versions of the Airflow environment (make airflow-test: .venv-airflow): apache-airflow,"; \
	  echo "# kedro-airflow and the project's train extra. Airflow pins fastapi<0.137 (the API's serve"; \
	  echo "# extra uses 0.165), so this set is resolved apart, from constraints.txt without the serve pins."; \
	  echo "# Regenerate after changing pyproject.toml or AIRFLOW_VERSION: make lock-airflow"; \
	  /tmp/stock-lstm-lock-airflow/bin/pip freeze --exclude-editable | grep -v '^-e'; } > constraints-airflow.txt

# Re-resolve the pinned set from pyproject.toml (needs the registry).
lock:
	rm -rf /tmp/stock-lstm-lock && $(PYTHON) -m venv /tmp/stock-lstm-lock
	/tmp/stock-lstm-lock/bin/pip install --quiet -e ".[train,serve,dev]"
	{ echo "# Exact versions tested in CI; installed by 'make setup' (pip install -c constraints.txt)."; \
	  echo "# Regenerate after changing pyproject.toml: make lock"; \
	  /tmp/stock-lstm-lock/bin/pip freeze --exclude-editable | grep -v '^-e'; } > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
