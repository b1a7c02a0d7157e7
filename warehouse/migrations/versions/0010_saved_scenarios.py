"""Saved what-if scenarios (issue 15)

- ``saved_scenario``: a named scenario (region, year, lever values) saved by a signed-in viewer; the result is
  recomputed when it is opened, with the run deployed then.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "saved_scenario",
        sa.Column("scenario_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("region_id", sa.String(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("levers_json", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.CheckConstraint("length(name) > 0", name=op.f("ck_saved_scenario_name")),
        sa.CheckConstraint("year BETWEEN 1950 AND 2100", name=op.f("ck_saved_scenario_year")),
        sa.ForeignKeyConstraint(
            ["region_id"], ["region.region_id"], name=op.f("fk_saved_scenario_region_id_region")
        ),
        sa.PrimaryKeyConstraint("scenario_id", name=op.f("pk_saved_scenario")),
        sa.UniqueConstraint("created_by", "name", name="uq_saved_scenario_created_by_name"),
    )


def downgrade() -> None:
    op.drop_table("saved_scenario")
