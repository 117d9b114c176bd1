"""change versioning: rows carry their validity, versions record what changed per ticker

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 17:00:00

Before: every version of a stage table was a full copy (rows keyed by version_id). After: a row
is valid from the version that added it (`valid_from`, the old version_id) until the version
that replaced or removed it (`valid_to`). The upgrade keeps every version: it closes, version
by version, the rows the next version no longer holds identically and deletes the duplicated
copies, so the table as of each old version is exactly its old copy. Old versions keep their
content hash and are marked ``hash_method = 'table'`` (sha256 of the whole canonical CSV,
crud.table_hash reproduces it). `ticker_versions` is filled with each ticker's state after each
old version that changed it, so the next save writes only what changes.

Self-contained: the ticker hash below is a copy of the one the saves used when this revision was
written, so a later change to crud's hashing can never change what this migration writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import sqlalchemy as sa
from alembic import op

from stock_lstm.common.lazy import lazy_module

if TYPE_CHECKING:
    import pandas as pd
else:  # Alembic imports every revision to find the head: pandas only when this one runs
    pd = lazy_module("pandas")

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STAGES = {"raw": "raw_prices", "clean": "clean_prices", "features": "features"}
PRICE_VALUES = ("open", "high", "low", "close", "adj_close", "volume")
VALUES = {
    "raw_prices": PRICE_VALUES,
    "clean_prices": PRICE_VALUES,
    "features": ("close", "log_return"),
}


# --- the ticker hash as of this revision (crud's `ticker_hash` when it was written) ----------
# A stage frame: ticker, date, then the value columns in table order, each with its kind.
FRAME_KINDS = {
    "raw": {"open": "float", "high": "float", "low": "float", "close": "float",
            "adj_close": "float", "volume": "int"},
    "clean": {"open": "float", "high": "float", "low": "float", "close": "float",
              "adj_close": "float", "volume": "int"},
    "features": {"close": "float", "log_return": "float"},
}  # fmt: skip
# Two keys give each row a 128-bit hash (pandas' siphash of the row's values).
ROW_HASH_KEYS = ("stocklstm-row-01", "stocklstm-row-02")


def _frame_columns(stage: str) -> list[str]:
    return ["ticker", "date", *FRAME_KINDS[stage]]


def _canonical_frame(rows: Sequence[sa.Row], stage: str) -> pd.DataFrame:
    """Rows of a stage table typed as the saves typed them, sorted by (ticker, date)."""
    frame = pd.DataFrame.from_records(rows, columns=_frame_columns(stage))
    typed = {
        "ticker": frame["ticker"].astype("str"),
        "date": pd.to_datetime(frame["date"]).dt.normalize().astype("datetime64[ns]"),
    }
    for name, kind in FRAME_KINDS[stage].items():
        values = pd.to_numeric(frame[name])
        typed[name] = values.round().astype("Int64") if kind == "int" else values.astype("float64")
    canonical = pd.DataFrame(typed, index=frame.index)
    return canonical.sort_values(["ticker", "date"], kind="stable").reset_index(drop=True)


def _ticker_hash(canonical: pd.DataFrame) -> str:
    """The content hash of one ticker's canonical rows: the sum (mod 2**64 per half) of each
    row's 128-bit hash, as hex."""
    if canonical.empty:
        hashes = np.zeros((0, 2), dtype=np.uint64)
    else:
        hashes = np.column_stack(
            [
                pd.util.hash_pandas_object(canonical, index=False, hash_key=key).to_numpy()
                for key in ROW_HASH_KEYS
            ]
        )
    with np.errstate(over="ignore"):
        total = hashes.sum(axis=0, dtype=np.uint64)
    return f"{int(total[0]):016x}{int(total[1]):016x}"


def _stage_table(name: str) -> sa.TableClause:
    return sa.table(
        name,
        sa.column("valid_from", sa.Integer),
        sa.column("valid_to", sa.Integer),
        sa.column("ticker", sa.String),
        sa.column("date", sa.Date),
        *(sa.column(value) for value in VALUES[name]),
    )


def upgrade() -> None:
    with op.batch_alter_table("data_versions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("hash_method", sa.String(16), nullable=False, server_default="table")
        )
        batch_op.add_column(sa.Column("rows_added", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("rows_closed", sa.Integer(), nullable=True))
    op.create_table(
        "ticker_versions",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("ticker", sa.String(length=32), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("first_date", sa.Date(), nullable=True),
        sa.Column("last_date", sa.Date(), nullable=True),
        sa.Column("changed_from", sa.Date(), nullable=True),
        sa.Column("rows_new", sa.Integer(), nullable=False),
        sa.Column("rows_restated", sa.Integer(), nullable=False),
        sa.Column("rows_removed", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["data_versions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("version_id", "ticker"),
    )
    op.create_index(
        "ix_ticker_versions_stage_ticker_version",
        "ticker_versions",
        ["stage", "ticker", "version_id"],
    )
    for stage, name in STAGES.items():
        _record_ticker_states(stage, name)  # from the full copies, before they are merged
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.alter_column("version_id", new_column_name="valid_from")
            batch_op.add_column(sa.Column("valid_to", sa.Integer(), nullable=True))
            batch_op.create_foreign_key(
                f"fk_{name}_valid_to", "data_versions", ["valid_to"], ["id"], ondelete="SET NULL"
            )
        _merge_copies(stage, name)
        op.create_index(
            f"ix_{name}_open_ticker_date",
            name,
            ["ticker", "date"],
            unique=True,
            sqlite_where=sa.text("valid_to IS NULL"),
            postgresql_where=sa.text("valid_to IS NULL"),
        )
        op.create_index(f"ix_{name}_valid_to", name, ["valid_to"])


def _versions(stage: str) -> list[int]:
    versions = sa.table("data_versions", sa.column("id", sa.Integer), sa.column("stage", sa.String))
    query = sa.select(versions.c.id).where(versions.c.stage == stage).order_by(versions.c.id)
    return [row[0] for row in op.get_bind().execute(query)]


def _merge_copies(stage: str, name: str) -> None:
    """Version by version: close the open rows the version does not hold identically, then
    delete the version's copies of rows that stay open."""
    bind = op.get_bind()
    table = _stage_table(name)
    other = table.alias("other")
    values = VALUES[name]

    def same_row(a, b) -> sa.ColumnElement[bool]:
        return sa.and_(
            a.c.ticker == b.c.ticker,
            a.c.date == b.c.date,
            *(a.c[value].is_not_distinct_from(b.c[value]) for value in values),
        )

    for version in _versions(stage)[1:]:
        kept_in_version = sa.exists().where(other.c.valid_from == version, same_row(other, table))
        bind.execute(
            sa.update(table)
            .where(table.c.valid_to.is_(None), table.c.valid_from < version, ~kept_in_version)
            .values(valid_to=version)
        )
        still_open = sa.exists().where(
            other.c.valid_from < version, other.c.valid_to.is_(None), same_row(other, table)
        )
        bind.execute(sa.delete(table).where(table.c.valid_from == version, still_open))


def _record_ticker_states(stage: str, name: str) -> None:
    """Each ticker's hash, size and range after each old version that changed it."""
    bind = op.get_bind()
    table = sa.table(name, sa.column("version_id", sa.Integer), sa.column("ticker", sa.String))
    columns = _frame_columns(stage)
    states = sa.table(
        "ticker_versions",
        *(
            sa.column(c)
            for c in (
                "version_id",
                "ticker",
                "stage",
                "content_hash",
                "row_count",
                "first_date",
                "last_date",
                "changed_from",
                "rows_new",
                "rows_restated",
                "rows_removed",
            )
        ),
    )
    previous: dict[str, str] = {}
    for version in _versions(stage):
        query = sa.select(*(sa.column(c) for c in columns)).select_from(table)
        rows = bind.execute(query.where(table.c.version_id == version)).all()
        frame = _canonical_frame(rows, stage)
        current: dict[str, str] = {}
        records = []
        for ticker, group in frame.groupby("ticker", sort=True):
            digest = _ticker_hash(group)
            current[str(ticker)] = digest
            if previous.get(str(ticker)) != digest:
                records.append(
                    {
                        "version_id": version,
                        "ticker": str(ticker),
                        "stage": stage,
                        "content_hash": digest,
                        "row_count": len(group),
                        "first_date": group["date"].min().date(),
                        "last_date": group["date"].max().date(),
                        "changed_from": None,  # unknown: the next derived run redoes it whole
                        "rows_new": 0,
                        "rows_restated": 0,
                        "rows_removed": 0,
                    }
                )
        for ticker in sorted(set(previous) - set(current)):
            records.append(
                {
                    "version_id": version,
                    "ticker": ticker,
                    "stage": stage,
                    "content_hash": None,
                    "row_count": 0,
                    "first_date": None,
                    "last_date": None,
                    "changed_from": None,
                    "rows_new": 0,
                    "rows_restated": 0,
                    "rows_removed": 0,
                }
            )
        if records:
            bind.execute(sa.insert(states), records)
        previous = current


def downgrade() -> None:
    """Back to full copies: every version gets its table as of that version."""
    bind = op.get_bind()
    for stage, name in STAGES.items():
        table = _stage_table(name)
        op.drop_index(f"ix_{name}_valid_to", table_name=name)
        op.drop_index(f"ix_{name}_open_ticker_date", table_name=name)
        columns = ["ticker", "date", *VALUES[name]]
        # newest first: a copy (valid_from = version) is never read again by an older version
        for version in reversed(_versions(stage)):
            valid = sa.and_(
                table.c.valid_from < version,
                sa.or_(table.c.valid_to.is_(None), table.c.valid_to > version),
            )
            copy = sa.select(sa.literal(version), *(table.c[c] for c in columns)).where(valid)
            bind.execute(sa.insert(table).from_select(["valid_from", *columns], copy))
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_constraint(f"fk_{name}_valid_to", type_="foreignkey")
            batch_op.drop_column("valid_to")
            batch_op.alter_column("valid_from", new_column_name="version_id")
    op.drop_index("ix_ticker_versions_stage_ticker_version", table_name="ticker_versions")
    op.drop_table("ticker_versions")
    # not a batch: on SQLite, recreating data_versions would cascade-delete every stage row
    for column in ("rows_closed", "rows_added", "hash_method"):
        op.drop_column("data_versions", column)
