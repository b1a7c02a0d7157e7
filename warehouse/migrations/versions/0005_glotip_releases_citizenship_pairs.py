"""GLOTIP releases and citizenship pairs (issues 10 and 11)

- ``source_load.release``: the publisher's release (vintage) a loaded file belongs to. GLOTIP loads the 2023
  and
  the April 2025 releases as vintages of one source; each observation records its release through its load.
- ``glotip_pair``: detected victims by citizenship, one row per (detecting country, citizenship, year).
- ``glotip_reporting``: the census of country-years that reported a citizenship breakdown.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # source_load is referenced by other tables, so SQLite must not rebuild it: a plain ADD COLUMN
    op.add_column("source_load", sa.Column("release", sa.String(length=20), nullable=True))
    op.create_table(
        "glotip_pair",
        sa.Column("detecting_iso3", sa.String(length=3), nullable=False),
        sa.Column("citizenship_iso3", sa.String(length=3), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("victims", sa.Float(), nullable=False),
        sa.Column("censored", sa.Boolean(), nullable=False),
        sa.Column("is_nationals", sa.Boolean(), nullable=False),
        sa.Column("release", sa.String(length=20), nullable=False),
        sa.Column("load_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "victims >= 0 AND victims <= 1.7976931348623157e308", name=op.f("ck_glotip_pair_victims")
        ),
        sa.CheckConstraint("year BETWEEN 1990 AND 2100", name=op.f("ck_glotip_pair_year")),
        sa.CheckConstraint(
            "is_nationals = (detecting_iso3 = citizenship_iso3)", name=op.f("ck_glotip_pair_nationals")
        ),
        sa.ForeignKeyConstraint(
            ["detecting_iso3"], ["region.region_id"], name=op.f("fk_glotip_pair_detecting_iso3_region")
        ),
        sa.ForeignKeyConstraint(
            ["citizenship_iso3"], ["region.region_id"], name=op.f("fk_glotip_pair_citizenship_iso3_region")
        ),
        sa.ForeignKeyConstraint(
            ["load_id"], ["source_load.load_id"], name=op.f("fk_glotip_pair_load_id_source_load")
        ),
        sa.PrimaryKeyConstraint("detecting_iso3", "citizenship_iso3", "year", name=op.f("pk_glotip_pair")),
    )
    op.create_index("ix_glotip_pair_citizenship", "glotip_pair", ["citizenship_iso3", "year"], unique=False)
    op.create_table(
        "glotip_reporting",
        sa.Column("detecting_iso3", sa.String(length=3), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("n_citizenships", sa.Integer(), nullable=False),
        sa.Column("release", sa.String(length=20), nullable=False),
        sa.Column("load_id", sa.Integer(), nullable=False),
        sa.CheckConstraint("n_citizenships >= 1", name=op.f("ck_glotip_reporting_n_citizenships")),
        sa.CheckConstraint("year BETWEEN 1990 AND 2100", name=op.f("ck_glotip_reporting_year")),
        sa.ForeignKeyConstraint(
            ["detecting_iso3"], ["region.region_id"], name=op.f("fk_glotip_reporting_detecting_iso3_region")
        ),
        sa.ForeignKeyConstraint(
            ["load_id"], ["source_load.load_id"], name=op.f("fk_glotip_reporting_load_id_source_load")
        ),
        sa.PrimaryKeyConstraint("detecting_iso3", "year", name=op.f("pk_glotip_reporting")),
    )


def downgrade() -> None:
    op.drop_table("glotip_reporting")
    op.drop_index("ix_glotip_pair_citizenship", table_name="glotip_pair")
    op.drop_table("glotip_pair")
    op.execute(sa.text("ALTER TABLE source_load DROP COLUMN release"))  # no rebuild on SQLite either
