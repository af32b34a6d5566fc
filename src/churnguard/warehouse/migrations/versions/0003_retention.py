"""Retention: campaigns, members (treated and control), contact outbox, results, uplift models.

Revision ID: 0003_retention
Revises: 0002_warnings
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_retention"
down_revision = "0002_warnings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    tz = sa.DateTime(timezone=True)
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("planned_on", sa.Date(), nullable=False),
        sa.Column("budget", sa.Float(), nullable=False),
        sa.Column("holdout_share", sa.Float(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("effect_source", sa.String(64), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=True),
        sa.Column("objective", sa.Float(), nullable=False),
        sa.Column("bound", sa.Float(), nullable=False),
        sa.Column("expected_cost", sa.Float(), nullable=False),
        sa.Column("treated", sa.Integer(), nullable=False),
        sa.Column("control", sa.Integer(), nullable=False),
        sa.Column("observation_end", sa.Date(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", tz, nullable=False),
        sa.Column("launched_at", tz, nullable=True),
        sa.Column("resolved_at", tz, nullable=True),
    )
    op.create_table(
        "campaign_members",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("subscriber_id", sa.String(64), nullable=False),
        sa.Column("arm", sa.String(10), nullable=False),
        sa.Column("stratum", sa.String(64), nullable=False),
        sa.Column("level", sa.String(8), nullable=True),
        sa.Column("value_tier", sa.String(16), nullable=True),
        sa.Column("churn_probability", sa.Float(), nullable=False),
        sa.Column("clv", sa.Float(), nullable=True),
        sa.Column("arpu_3m", sa.Float(), nullable=True),
        sa.Column("top_category", sa.String(32), nullable=True),
        sa.Column("churn_type", sa.String(16), nullable=True),
        sa.Column("service_type", sa.String(16), nullable=True),
        sa.Column("region", sa.String(64), nullable=True),
        sa.Column("queue", sa.String(64), nullable=True),
        sa.Column("offer", sa.String(32), nullable=True),
        sa.Column("channel", sa.String(16), nullable=True),
        sa.Column("expected_save", sa.Float(), nullable=True),
        sa.Column("expected_cost", sa.Float(), nullable=True),
        sa.Column("expected_value", sa.Float(), nullable=True),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("contact_status", sa.String(16), nullable=False),
        sa.Column("contacted_at", tz, nullable=True),
        sa.Column("result", sa.String(16), nullable=True),
        sa.Column("result_at", tz, nullable=True),
        sa.Column("agent", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(24), nullable=True),
        sa.Column("outcome_month", sa.Date(), nullable=True),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.UniqueConstraint("campaign_id", "subscriber_id", name="uq_member"),
    )
    op.create_index("ix_members_subscriber", "campaign_members", ["subscriber_id", "arm"])
    op.create_table(
        "contact_outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column(
            "member_id",
            sa.Integer(),
            sa.ForeignKey("campaign_members.id"),
            nullable=False,
            unique=True,
        ),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("not_before", tz, nullable=True),
        sa.Column("delivered_at", tz, nullable=True),
        sa.Column("created_at", tz, nullable=False),
    )
    op.create_index("ix_outbox_status", "contact_outbox", ["campaign_id", "status"])
    op.create_table(
        "contact_results",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("member_id", sa.Integer(), sa.ForeignKey("campaign_members.id"), nullable=False),
        sa.Column("subscriber_id", sa.String(64), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("agent", sa.String(64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_at", tz, nullable=False),
    )
    op.create_table(
        "uplift_models",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("version", sa.String(64), nullable=False, unique=True),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("learner", sa.String(32), nullable=False),
        sa.Column("campaigns", sa.JSON(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("artifact_path", sa.String(256), nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", tz, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "uplift_models",
        "contact_results",
        "contact_outbox",
        "campaign_members",
        "campaigns",
    ):
        op.drop_table(table)
