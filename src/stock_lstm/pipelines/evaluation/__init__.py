"""Evaluation: the trained network against the naive and drift forecasts on the test split;
model_versions row."""

from stock_lstm.pipelines.evaluation.pipeline import create_pipeline

__all__ = ["create_pipeline"]
