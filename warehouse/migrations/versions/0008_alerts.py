"""alerts: rules, alerts with human review, subscriptions, deliveries (issue 14)

Also the stored crisis-phase curves and the events behind them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "phase_result",
        sa.Column("result_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("computed_at", TZ, nullable=False),
        sa.Column("watchlist_run_id", sa.String(length=64), nullable=True),
        sa.Column("meta_json", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("result_id", name=op.f("pk_phase_result")),
    )
    op.create_table(
        "phase_curve",
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=30), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=False),
        sa.Column("k", sa.Integer(), nullable=False),
        sa.Column("effect", sa.Float(), nullable=True),
        sa.Column("lower", sa.Float(), nullable=True),
        sa.Column("upper", sa.Float(), nullable=True),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("n_countries", sa.Integer(), nullable=False),
        sa.CheckConstraint("n >= 0 AND n_countries >= 0", name=op.f("ck_phase_curve_n")),
        sa.ForeignKeyConstraint(
            ["result_id"],
            ["phase_result.result_id"],
            ondelete="CASCADE",
            name=op.f("fk_phase_curve_result_id_phase_result"),
        ),
        sa.PrimaryKeyConstraint("result_id", "event_type", "outcome", "k", name=op.f("pk_phase_curve")),
    )
    op.create_table(
        "crisis_event",
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.String(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=30), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("previous", sa.Float(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("onset", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["result_id"],
            ["phase_result.result_id"],
            ondelete="CASCADE",
            name=op.f("fk_crisis_event_result_id_phase_result"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["region.region_id"], name=op.f("fk_crisis_event_region_id_region")
        ),
        sa.PrimaryKeyConstraint("result_id", "region_id", "year", "event_type", name=op.f("pk_crisis_event")),
    )
    op.create_table(
        "alert_rule",
        sa.Column("rule_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("condition", sa.String(length=40), nullable=False),
        sa.Column("params_json", sa.JSON(), nullable=False),
        sa.Column("minimum", sa.Float(), nullable=True),
        sa.Column("region_scope", sa.String(length=500), nullable=False),
        sa.Column("cooldown_years", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("updated_by", sa.String(length=120), nullable=False),
        sa.CheckConstraint(
            "condition IN ('new_maximum', 'outflow_surge', 'watchlist_enters_top', 'watchlist_jump', "
            "'above_previous_upper')",
            name=op.f("ck_alert_rule_condition"),
        ),
        sa.CheckConstraint("cooldown_years >= 0", name=op.f("ck_alert_rule_cooldown")),
        sa.PrimaryKeyConstraint("rule_id", name=op.f("pk_alert_rule")),
        sa.UniqueConstraint("name", name=op.f("uq_alert_rule_name")),
    )
    op.create_table(
        "alert",
        sa.Column("alert_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.String(length=32), nullable=False),
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("dedup_key", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("evidence_json", sa.JSON(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("evaluation_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_by", sa.String(length=120), nullable=True),
        sa.Column("reviewed_at", TZ, nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'confirmed', 'dismissed')", name=op.f("ck_alert_status")),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["alert_rule.rule_id"], ondelete="CASCADE", name=op.f("fk_alert_rule_id_alert_rule")
        ),
        sa.ForeignKeyConstraint(["region_id"], ["region.region_id"], name=op.f("fk_alert_region_id_region")),
        sa.PrimaryKeyConstraint("alert_id", name=op.f("pk_alert")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_alert_dedup_key")),
    )
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.create_index("ix_alert_status_created", ["status", "created_at"], unique=False)
    op.create_table(
        "alert_evaluation",
        sa.Column("evaluation_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("trigger", sa.String(length=40), nullable=False),
        sa.Column("requested_by", sa.String(length=120), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("finished_at", TZ, nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("n_fired", sa.Integer(), nullable=True),
        sa.Column("n_new", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("backtest_json", sa.JSON(), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'failed')", name=op.f("ck_alert_evaluation_status")
        ),
        sa.PrimaryKeyConstraint("evaluation_id", name=op.f("pk_alert_evaluation")),
    )
    op.create_table(
        "alert_subscription",
        sa.Column("subscription_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=300), nullable=False),
        sa.Column("regions", sa.String(length=500), nullable=False),
        sa.Column("rules", sa.String(length=500), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.user_id"],
            ondelete="CASCADE",
            name=op.f("fk_alert_subscription_user_id_app_user"),
        ),
        sa.PrimaryKeyConstraint("subscription_id", name=op.f("pk_alert_subscription")),
        sa.UniqueConstraint("user_id", "email", name="uq_alert_subscription_user_email"),
    )
    op.create_table(
        "alert_webhook",
        sa.Column("webhook_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("secret_env", sa.String(length=80), nullable=False),
        sa.Column("regions", sa.String(length=500), nullable=False),
        sa.Column("rules", sa.String(length=500), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("webhook_id", name=op.f("pk_alert_webhook")),
        sa.UniqueConstraint("name", name=op.f("uq_alert_webhook_name")),
    )
    op.create_table(
        "alert_delivery",
        sa.Column("delivery_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", TZ, nullable=True),
        sa.Column("sent_at", TZ, nullable=True),
        sa.CheckConstraint("channel IN ('email', 'webhook')", name=op.f("ck_alert_delivery_channel")),
        sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name=op.f("ck_alert_delivery_status")),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_alert_delivery_attempts")),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alert.alert_id"],
            ondelete="CASCADE",
            name=op.f("fk_alert_delivery_alert_id_alert"),
        ),
        sa.PrimaryKeyConstraint("delivery_id", name=op.f("pk_alert_delivery")),
        sa.UniqueConstraint("alert_id", "channel", "target", name="uq_alert_delivery_alert_channel_target"),
    )


def downgrade() -> None:
    for name in ("alert_delivery", "alert_webhook", "alert_subscription", "alert_evaluation"):
        op.drop_table(name)
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_status_created")
    for name in ("alert", "alert_rule", "crisis_event", "phase_curve", "phase_result"):
        op.drop_table(name)
