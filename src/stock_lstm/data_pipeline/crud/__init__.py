"""The one package that reads and writes the database (module split in progress)."""

from stock_lstm.data_pipeline.crud.stage_write import *  # noqa: F403
from stock_lstm.data_pipeline.crud.stage_write import _latest, _records, _typed_frame  # noqa: F401
