"""security: session revocation, finite observation values (issue 9 items 3, 4, 9)

- ``app_user.session_epoch``: a counter written into every session cookie at login. Logout, a password change,
  a
  role change and disabling a user raise it, so every cookie issued before stops working at once (a signed
  cookie cannot be recalled otherwise).
- ``observation.value`` must be a finite float. ``BETWEEN -max AND +max`` rejects +-Infinity on SQLite (stored
  as 9e999) and PostgreSQL, and NaN on PostgreSQL (NaN sorts above every number there; SQLite stores NaN as
  NULL, which NOT NULL already refuses).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
MAX_FLOAT = 1.7976931348623157e308
FINITE = "value BETWEEN -1.7976931348623157e308 AND 1.7976931348623157e308"


def upgrade() -> None:
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0"))
    conn = op.get_bind()
    # Rows loaded before the check existed could hold +-Inf/NaN; the constraint cannot be added over them.
    # They are not data (a reader bug let them through): remove them and keep the load counts true.
    obs = sa.table("observation", sa.column("value", sa.Float), sa.column("load_id", sa.Integer))
    loads = sa.table("source_load", sa.column("load_id", sa.Integer), sa.column("observations", sa.Integer))
    not_finite = sa.not_(obs.c.value.between(-MAX_FLOAT, MAX_FLOAT))
    bad = conn.execute(
        sa.select(obs.c.load_id, sa.func.count()).where(not_finite).group_by(obs.c.load_id)
    ).all()
    for load_id, n in bad:
        log.warning(
            "removing %d non-finite observation value(s) of load %s; reload that source to quarantine "
            "the rows with reason invalid_number",
            n,
            load_id,
        )
        conn.execute(
            sa.update(loads).where(loads.c.load_id == load_id).values(observations=loads.c.observations - n)
        )
    conn.execute(sa.delete(obs).where(not_finite))
    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.create_check_constraint(op.f("ck_observation_finite_value"), FINITE)


def downgrade() -> None:
    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_observation_finite_value"), type_="check")
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_column("session_epoch")
