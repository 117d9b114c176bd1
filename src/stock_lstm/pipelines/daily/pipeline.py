"""daily: incremental ingestion -> cleaning -> feature_engineering -> monitoring, the same nodes
as those pipelines (so kedro-airflow groups them into the same namespaced tasks).

With no new bar the data stages store nothing and the monitoring is skipped. Training and
evaluation are not in this graph: a Kedro pipeline is static, so `python -m stock_lstm.cli.daily`
(`make daily`) runs them after this one only when the stored decision says retrain.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline

from stock_lstm.pipelines.cleaning import create_pipeline as cleaning
from stock_lstm.pipelines.feature_engineering import create_pipeline as feature_engineering
from stock_lstm.pipelines.ingestion import create_pipeline as ingestion
from stock_lstm.pipelines.monitoring import create_pipeline as monitoring

STAGES = (ingestion, cleaning, feature_engineering, monitoring)


def create_pipeline(**kwargs) -> Pipeline:
    return sum((stage() for stage in STAGES), Pipeline([]))
