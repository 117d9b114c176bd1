"""Evaluation: the LSTM against the naive forecast on the test split; model_versions row."""

from stock_lstm.pipelines.evaluation.pipeline import create_pipeline

__all__ = ["create_pipeline"]
