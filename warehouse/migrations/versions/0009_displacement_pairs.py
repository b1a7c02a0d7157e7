"""UNHCR displacement by origin and asylum country as pairs (issue 11 pair model)

- ``displacement_pair``: refugees and asylum-seekers of origin o in asylum country d at the end of a year,
  from
  the same ``unhcr_population`` load that feeds the origin and host aggregates (a second view of loaded rows).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "displacement_pair",
        sa.Column("origin_iso3", sa.String(length=3), nullable=False),
        sa.Column("asylum_iso3", sa.String(length=3), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("refugees", sa.Float(), nullable=True),
        sa.Column("asylum_seekers", sa.Float(), nullable=True),
        sa.Column("load_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "refugees IS NULL OR (refugees >= 0 AND refugees <= 1e12)",
            name=op.f("ck_displacement_pair_refugees"),
        ),
        sa.CheckConstraint(
            "asylum_seekers IS NULL OR (asylum_seekers >= 0 AND asylum_seekers <= 1e12)",
            name=op.f("ck_displacement_pair_asylum_seekers"),
        ),
        sa.CheckConstraint(
            "refugees IS NOT NULL OR asylum_seekers IS NOT NULL", name=op.f("ck_displacement_pair_some_value")
        ),
        sa.CheckConstraint("origin_iso3 <> asylum_iso3", name=op.f("ck_displacement_pair_not_self")),
        sa.CheckConstraint("year BETWEEN 1950 AND 2100", name=op.f("ck_displacement_pair_year")),
        sa.ForeignKeyConstraint(
            ["origin_iso3"], ["region.region_id"], name=op.f("fk_displacement_pair_origin_iso3_region")
        ),
        sa.ForeignKeyConstraint(
            ["asylum_iso3"], ["region.region_id"], name=op.f("fk_displacement_pair_asylum_iso3_region")
        ),
        sa.ForeignKeyConstraint(
            ["load_id"], ["source_load.load_id"], name=op.f("fk_displacement_pair_load_id_source_load")
        ),
        sa.PrimaryKeyConstraint("origin_iso3", "asylum_iso3", "year", name=op.f("pk_displacement_pair")),
    )
    op.create_index("ix_displacement_pair_asylum", "displacement_pair", ["asylum_iso3", "year"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_displacement_pair_asylum", table_name="displacement_pair")
    op.drop_table("displacement_pair")
