"""jobs: owner and heartbeat, one ETL writer, one current load per file (issue 9 items 1, 2, 7)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

OLD_JOB_KIND = "kind IN ('retrain', 'load')"
NEW_JOB_KIND = "kind IN ('retrain', 'load', 'validate')"
OLD_JOB_STATUS = "status IN ('running', 'succeeded', 'failed')"
NEW_JOB_STATUS = "status IN ('running', 'succeeded', 'failed', 'cancelled')"
OLD_UPLOAD_STATUS = "status IN ('validated', 'refused', 'loading', 'loaded', 'failed', 'discarded')"
NEW_UPLOAD_STATUS = (
    "status IN ('validating', 'validated', 'refused', 'loading', 'loaded', 'failed', 'discarded', "
    "'cancelled')"
)


def upgrade() -> None:
    with op.batch_alter_table("job") as batch:
        batch.add_column(sa.Column("owner_host", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("owner_pid", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("cancel_requested", sa.Boolean(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("upload_id", sa.Integer(), nullable=True))
        batch.drop_constraint(op.f("ck_job_kind"), type_="check")
        batch.drop_constraint(op.f("ck_job_status"), type_="check")
        batch.create_check_constraint("kind", NEW_JOB_KIND)
        batch.create_check_constraint("status", NEW_JOB_STATUS)
    with op.batch_alter_table("upload") as batch:
        batch.add_column(sa.Column("job_id", sa.Integer(), nullable=True))
        batch.drop_constraint(op.f("ck_upload_status"), type_="check")
        batch.create_check_constraint("status", NEW_UPLOAD_STATUS)
    op.create_table(
        "etl_lock",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("owner_host", sa.String(length=255), nullable=False),
        sa.Column("owner_pid", sa.Integer(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_etl_lock")),
    )
    # source_load is referenced by observation and rejected_row, so SQLite must not rebuild it: a plain
    # ADD COLUMN and a unique index, no table constraint
    op.add_column("source_load", sa.Column("current_key", sa.String(length=400), nullable=True))
    # Two concurrent runs could leave two 'loaded' rows for one file; the newest one is the current load.
    op.execute(
        sa.text(
            "UPDATE source_load SET status = 'superseded' WHERE status = 'loaded' AND load_id < "
            "(SELECT MAX(s2.load_id) FROM source_load s2 WHERE s2.source = source_load.source "
            "AND s2.file = source_load.file AND s2.status = 'loaded')"
        )
    )
    op.execute(sa.text("UPDATE source_load SET current_key = source || '|' || file WHERE status = 'loaded'"))
    op.create_index("uq_source_load_current_key", "source_load", ["current_key"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_source_load_current_key", table_name="source_load")
    op.execute(sa.text("ALTER TABLE source_load DROP COLUMN current_key"))  # no rebuild on SQLite either
    op.drop_table("etl_lock")
    op.execute(sa.text("UPDATE upload SET status = 'failed' WHERE status IN ('validating', 'cancelled')"))
    with op.batch_alter_table("upload") as batch:
        batch.drop_constraint(op.f("ck_upload_status"), type_="check")
        batch.create_check_constraint("status", OLD_UPLOAD_STATUS)
        batch.drop_column("job_id")
    op.execute(sa.text("UPDATE job SET status = 'failed' WHERE status = 'cancelled'"))
    op.execute(sa.text("DELETE FROM job WHERE kind = 'validate'"))
    with op.batch_alter_table("job") as batch:
        batch.drop_constraint(op.f("ck_job_kind"), type_="check")
        batch.drop_constraint(op.f("ck_job_status"), type_="check")
        batch.create_check_constraint("kind", OLD_JOB_KIND)
        batch.create_check_constraint("status", OLD_JOB_STATUS)
        batch.drop_column("upload_id")
        batch.drop_column("cancel_requested")
        batch.drop_column("heartbeat_at")
        batch.drop_column("owner_pid")
        batch.drop_column("owner_host")
