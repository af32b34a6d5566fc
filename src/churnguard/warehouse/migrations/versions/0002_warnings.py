"""Warnings: customer and group warnings, and pushes to the retention team.

Revision ID: 0002_warnings
Revises: 0001_model_registry
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_warnings"
down_revision = "0001_model_registry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "warnings",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("subscriber_id", sa.String(64), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("last_seen_as_of", sa.Date(), nullable=False),
        sa.Column("raised_on", sa.Date(), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("model_level", sa.String(8), nullable=True),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=True),
        sa.Column("value_tier", sa.String(16), nullable=True),
        sa.Column("clv", sa.Float(), nullable=True),
        sa.Column("arpu_3m", sa.Float(), nullable=True),
        sa.Column("service_type", sa.String(16), nullable=True),
        sa.Column("customer_type", sa.String(16), nullable=True),
        sa.Column("region", sa.String(64), nullable=True),
        sa.Column("group_id", sa.String(64), nullable=True),
        sa.Column("rule_codes", sa.String(256), nullable=False, server_default=""),
        sa.Column("reasons_zh", sa.Text(), nullable=False, server_default=""),
        sa.Column("reasons_en", sa.Text(), nullable=False, server_default=""),
        sa.Column("top_category", sa.String(32), nullable=True),
        sa.Column("churn_type", sa.String(16), nullable=False),
        sa.Column("next_step_zh", sa.Text(), nullable=False),
        sa.Column("next_step_en", sa.Text(), nullable=False),
        sa.Column("passive", sa.Boolean(), nullable=False),
        sa.Column("retention_target", sa.Boolean(), nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("close_reason", sa.String(16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("level IN ('red', 'orange', 'yellow')", name="level"),
        sa.CheckConstraint("status IN ('open', 'closed')", name="status"),
    )
    op.create_index("ix_warnings_subscriber", "warnings", ["subscriber_id", "status"])
    op.create_index("ix_warnings_queue", "warnings", ["status", "queue", "level"])
    op.create_table(
        "group_warnings",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("group_id", sa.String(64), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("raised_on", sa.Date(), nullable=False),
        sa.Column("rule_code", sa.String(8), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("churned", sa.Integer(), nullable=False),
        sa.Column("signalling", sa.Integer(), nullable=False),
        sa.Column("active_members", sa.Integer(), nullable=False),
        sa.Column("members", sa.JSON(), nullable=False),
        sa.Column("reason_zh", sa.Text(), nullable=False),
        sa.Column("reason_en", sa.Text(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_group_warnings_group", "group_warnings", ["group_id", "status"])
    op.create_table(
        "warning_pushes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("push_key", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("warnings", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("push_key", "channel", name="uq_warning_pushes_key"),
    )


def downgrade() -> None:
    op.drop_table("warning_pushes")
    op.drop_index("ix_group_warnings_group", table_name="group_warnings")
    op.drop_table("group_warnings")
    op.drop_index("ix_warnings_queue", table_name="warnings")
    op.drop_index("ix_warnings_subscriber", table_name="warnings")
    op.drop_table("warnings")
