"""Model registry: one row per trained model version.

Revision ID: 0001_model_registry
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_model_registry"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("family", sa.String(32), nullable=False),
        sa.Column("target", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("train_start", sa.Date(), nullable=False),
        sa.Column("train_end", sa.Date(), nullable=False),
        sa.Column("validation_month", sa.Date(), nullable=False),
        sa.Column("rows_train", sa.Integer(), nullable=False),
        sa.Column("rows_validation", sa.Integer(), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("catalog_version", sa.String(64), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("calibration", sa.String(16), nullable=False),
        sa.Column("artifact_path", sa.String(512), nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("version", name="uq_model_versions_version"),
        sa.CheckConstraint(
            "status IN ('champion', 'challenger', 'retired')", name="ck_model_versions_status"
        ),
    )
    op.create_index("ix_model_versions_status", "model_versions", ["target", "status"])


def downgrade() -> None:
    op.drop_index("ix_model_versions_status", table_name="model_versions")
    op.drop_table("model_versions")
