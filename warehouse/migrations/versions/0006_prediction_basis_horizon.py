"""predictions: basis, horizon and input ages of each prediction (issue 10)

- ``basis``: ``checked`` (the country has a detected-victims label in that year), ``nowcast`` (the newest
  label
  used is 1-2 years old), ``projection`` (older, or the country never reported).
- ``horizon``: years between the newest label the prediction used and the predicted year (NULL: no label).
- ``label_year``, ``conflict_year``, ``displacement_year``: the newest year of detected-victims labels and of
  conflict and displacement inputs behind the prediction, so pages can show how old each input is.
- ``small_population``: population under 100,000 (per-100k rates of such places are noisy; flagged in
  rankings).

Rows written before this revision keep NULL in the new columns.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

NEW_COLUMNS = ("basis", "horizon", "label_year", "conflict_year", "displacement_year", "small_population")


def upgrade() -> None:
    with op.batch_alter_table("prediction", schema=None) as batch_op:
        batch_op.add_column(sa.Column("basis", sa.String(12), nullable=True))
        batch_op.add_column(sa.Column("horizon", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("label_year", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("conflict_year", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("displacement_year", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("small_population", sa.Boolean(), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_prediction_basis"), "basis IS NULL OR basis IN ('checked', 'nowcast', 'projection')"
        )


def downgrade() -> None:
    with op.batch_alter_table("prediction", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_prediction_basis"), type_="check")
        for name in reversed(NEW_COLUMNS):
            batch_op.drop_column(name)
