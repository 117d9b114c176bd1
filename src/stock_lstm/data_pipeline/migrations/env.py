"""Alembic environment: runs on the connection handed over by `migrations.upgrade`."""

from alembic import context
from sqlalchemy import create_engine

from stock_lstm.common.settings import get_settings
from stock_lstm.data_pipeline.orm_models import Base

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")


def _run(conn) -> None:
    context.configure(
        connection=conn,
        target_metadata=target_metadata,
        render_as_batch=conn.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:  # the `alembic` CLI (e.g. `alembic revision --autogenerate`)
    with create_engine(get_settings().database_url).begin() as conn:
        _run(conn)
