"""crisis watch list and pair-model outputs (issue 11)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "watchlist_score",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("region_id", sa.String(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("rise_factor", sa.Float(), nullable=False),
        sa.Column("lower", sa.Float(), nullable=False),
        sa.Column("upper", sa.Float(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("percentile", sa.Float(), nullable=False),
        sa.Column("top_driver", sa.Text(), nullable=True),
        sa.Column("drivers_json", sa.JSON(), nullable=True),
        sa.Column("displaced_abroad", sa.Float(), nullable=True),
        sa.Column("displaced_abroad_year", sa.Integer(), nullable=True),
        sa.Column("idps", sa.Float(), nullable=True),
        sa.Column("idps_year", sa.Integer(), nullable=True),
        sa.Column("hosted", sa.Float(), nullable=True),
        sa.Column("hosted_year", sa.Integer(), nullable=True),
        sa.Column("basis", sa.String(length=300), nullable=False),
        sa.Column("method", sa.String(length=40), nullable=False),
        sa.CheckConstraint(
            "rise_factor > 0 AND lower > 0 AND lower <= rise_factor AND rise_factor <= upper",
            name=op.f("ck_watchlist_score_interval"),
        ),
        sa.CheckConstraint("rank >= 1", name=op.f("ck_watchlist_score_rank")),
        sa.CheckConstraint(
            "percentile >= 0 AND percentile <= 100", name=op.f("ck_watchlist_score_percentile")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["model_run.run_id"],
            ondelete="CASCADE",
            name=op.f("fk_watchlist_score_run_id_model_run"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["region.region_id"], name=op.f("fk_watchlist_score_region_id_region")
        ),
        sa.PrimaryKeyConstraint("run_id", "region_id", "year", name=op.f("pk_watchlist_score")),
    )
    with op.batch_alter_table("watchlist_score", schema=None) as batch_op:
        batch_op.create_index("ix_watchlist_score_run_year", ["run_id", "year"], unique=False)

    op.create_table(
        "pair_prediction",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("detecting_iso3", sa.String(length=32), nullable=False),
        sa.Column("citizenship_iso3", sa.String(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("expected_victims", sa.Float(), nullable=False),
        sa.Column("lower", sa.Float(), nullable=False),
        sa.Column("upper", sa.Float(), nullable=False),
        sa.Column("horizon", sa.Integer(), nullable=False),
        sa.Column("last_listed_year", sa.Integer(), nullable=True),
        sa.Column("last_listed_victims", sa.Float(), nullable=True),
        sa.CheckConstraint(
            "lower >= 0 AND lower <= expected_victims AND expected_victims <= upper",
            name=op.f("ck_pair_prediction_interval"),
        ),
        sa.CheckConstraint("horizon >= 1", name=op.f("ck_pair_prediction_horizon")),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["model_run.run_id"],
            ondelete="CASCADE",
            name=op.f("fk_pair_prediction_run_id_model_run"),
        ),
        sa.ForeignKeyConstraint(
            ["detecting_iso3"], ["region.region_id"], name=op.f("fk_pair_prediction_detecting_iso3_region")
        ),
        sa.ForeignKeyConstraint(
            ["citizenship_iso3"],
            ["region.region_id"],
            name=op.f("fk_pair_prediction_citizenship_iso3_region"),
        ),
        sa.PrimaryKeyConstraint(
            "run_id", "detecting_iso3", "citizenship_iso3", "year", name=op.f("pk_pair_prediction")
        ),
    )
    with op.batch_alter_table("pair_prediction", schema=None) as batch_op:
        batch_op.create_index(
            "ix_pair_prediction_run_citizenship", ["run_id", "citizenship_iso3"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("pair_prediction", schema=None) as batch_op:
        batch_op.drop_index("ix_pair_prediction_run_citizenship")
    op.drop_table("pair_prediction")
    with op.batch_alter_table("watchlist_score", schema=None) as batch_op:
        batch_op.drop_index("ix_watchlist_score_run_year")
    op.drop_table("watchlist_score")
