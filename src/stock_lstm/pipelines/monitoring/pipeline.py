"""monitoring: the champion, the features, the API's logged forecasts, the stored shadow
forecasts and the recent decisions (the retrain cooldown) -> one monitoring run (shadow forecasts, realized scores, drift, the retrain
decision), stored in the database through `monitoring_run`.

Skipped (nothing stored) when the features version was already monitored for the champion:
a day without a new bar costs a few reads. Formulas: docs/architecture.md, "Monitoring".
"""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from stock_lstm.pipelines.monitoring.nodes import monitor_champion


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                monitor_champion,
                inputs=[
                    "monitoring_champion",
                    "features",
                    "logged_forecasts",
                    "stored_shadow_forecasts",
                    "last_monitoring_run",
                    "params:monitoring",
                    "recent_decisions",
                ],
                outputs="monitoring_run",
                name="monitor_champion",
            )
        ],
        namespace="monitoring",
        prefix_datasets_with_namespace=False,
    )
