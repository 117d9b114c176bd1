"""The daily pipeline: new bars in, the champion monitored (`make daily`)."""

from stock_lstm.pipelines.daily.pipeline import create_pipeline

__all__ = ["create_pipeline"]
