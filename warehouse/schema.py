"""Typed warehouse tables (DESIGN §3). Every range we know is a CHECK constraint."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

FAMILIES = (
    "displacement",
    "conflict",
    "trafficking",
    "detection",
    "structural",
    "response",
    "hazard",
    "geography",
)
DIRECTIONS = ("higher_is_riskier", "lower_is_riskier", "neutral")

region = Table(
    "region",
    metadata,
    Column("region_id", String(32), primary_key=True),
    Column("level", Integer, nullable=False),
    Column("iso3", String(3), nullable=False),
    Column("parent_id", String(32), ForeignKey("region.region_id"), nullable=True),
    Column("name", String(200), nullable=False),
    Column("name_local", String(200), nullable=True),
    Column("type", String(100), nullable=True),
    Column("iso_3166_2", String(20), nullable=True),
    Column("area_km2", Float, nullable=True),
    Column("label_lon", Float, nullable=True),
    Column("label_lat", Float, nullable=True),
    Column("geometry_wkb", Text, nullable=True),  # hex WKB, WGS84
    CheckConstraint("level IN (0, 1)", name="level"),
    CheckConstraint("length(iso3) = 3", name="iso3_len"),
    CheckConstraint("area_km2 IS NULL OR area_km2 >= 0", name="area"),
    CheckConstraint("label_lat IS NULL OR (label_lat BETWEEN -90 AND 90)", name="lat"),
    CheckConstraint("label_lon IS NULL OR (label_lon BETWEEN -180 AND 180)", name="lon"),
    CheckConstraint("(level = 0 AND parent_id IS NULL) OR level = 1", name="parent"),
)
Index("ix_region_iso3_level", region.c.iso3, region.c.level)

indicator = Table(
    "indicator",
    metadata,
    Column("code", String(80), primary_key=True),
    Column("family", String(20), nullable=False),
    Column("unit", String(60), nullable=False),
    Column("direction", String(20), nullable=False),
    Column("description", Text, nullable=False),
    Column("source", String(60), nullable=False),
    CheckConstraint("family IN ({})".format(", ".join(f"'{f}'" for f in FAMILIES)), name="family"),
    CheckConstraint("direction IN ({})".format(", ".join(f"'{d}'" for d in DIRECTIONS)), name="direction"),
)

source_load = Table(
    "source_load",
    metadata,
    Column("load_id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(60), nullable=False),
    Column("file", String(300), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("rows_read", Integer, nullable=False),
    Column("rows_loaded", Integer, nullable=False),
    Column("rows_rejected", Integer, nullable=False),
    Column("observations", Integer, nullable=False, default=0),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("status", String(20), nullable=False),
    Column("software_version", String(40), nullable=False),
    # '<source>|<file>' while this is the current load of that file, NULL once superseded: a unique index, so
    # two current loads of one file cannot exist even if two writers race (issue 9 #2)
    Column("current_key", String(400), nullable=True),
    # the publisher's release (vintage) the file belongs to, e.g. GLOTIP '2025-04-14'; NULL for unversioned
    # sources
    Column("release", String(20), nullable=True),
    CheckConstraint("rows_read >= 0 AND rows_loaded >= 0 AND rows_rejected >= 0", name="counts"),
    CheckConstraint("rows_read = rows_loaded + rows_rejected", name="invariant"),
    CheckConstraint("status IN ('loaded', 'superseded')", name="status"),
    CheckConstraint("length(sha256) = 64", name="sha"),
)
Index("ix_source_load_source", source_load.c.source, source_load.c.status)
# an index, not a table constraint: SQLite cannot rebuild source_load (rows reference it) to add one
Index("uq_source_load_current_key", source_load.c.current_key, unique=True)

observation = Table(
    "observation",
    metadata,
    Column("observation_id", Integer, primary_key=True, autoincrement=True),
    Column("region_id", String(32), ForeignKey("region.region_id"), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_type", String(5), nullable=False),
    Column("indicator", String(80), ForeignKey("indicator.code"), nullable=False),
    Column("source", String(60), nullable=False),
    Column("value", Float, nullable=False),
    Column("censored", Boolean, nullable=False, default=False),
    Column("load_id", Integer, ForeignKey("source_load.load_id"), nullable=False),
    UniqueConstraint(
        "region_id", "period_start", "period_type", "indicator", "source", name="uq_observation_key"
    ),
    CheckConstraint("period_type IN ('year', 'month')", name="period_type"),
    # finite only: rejects +-Infinity (SQLite and PostgreSQL) and NaN (PostgreSQL; SQLite stores NaN as NULL)
    CheckConstraint("value BETWEEN -1.7976931348623157e308 AND 1.7976931348623157e308", name="finite_value"),
)
Index("ix_observation_indicator", observation.c.indicator, observation.c.period_start)
Index("ix_observation_source", observation.c.source)

rejected_row = Table(
    "rejected_row",
    metadata,
    Column("rejected_id", Integer, primary_key=True, autoincrement=True),
    Column("load_id", Integer, ForeignKey("source_load.load_id", ondelete="CASCADE"), nullable=False),
    Column("row_number", Integer, nullable=False),
    Column("reason_code", String(40), nullable=False),
    Column("reason", Text, nullable=False),
    Column("raw", Text, nullable=False),
    CheckConstraint("row_number >= 1", name="row_number"),
)
Index("ix_rejected_row_load", rejected_row.c.load_id)

country_code = Table(
    "country_code",
    metadata,
    Column("scheme", String(20), primary_key=True),
    Column("code", String(20), primary_key=True),
    Column("iso3", String(3), nullable=False),
    Column("load_id", Integer, ForeignKey("source_load.load_id"), nullable=False),
)

# --- GLOTIP detected victims by citizenship (issue 11, migration 0005) -------------------------------------

glotip_pair = Table(
    "glotip_pair",
    metadata,
    # one (detecting country, citizenship, year): victims of that citizenship detected by that country
    Column("detecting_iso3", String(3), ForeignKey("region.region_id"), primary_key=True),
    Column("citizenship_iso3", String(3), ForeignKey("region.region_id"), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("victims", Float, nullable=False),
    Column("censored", Boolean, nullable=False),  # '<5' stored as victims = 5, censored = true
    Column("is_nationals", Boolean, nullable=False),  # citizenship is the detecting country itself
    Column("release", String(20), nullable=False),
    Column("load_id", Integer, ForeignKey("source_load.load_id"), nullable=False),
    CheckConstraint("victims >= 0 AND victims <= 1.7976931348623157e308", name="victims"),
    CheckConstraint("year BETWEEN 1990 AND 2100", name="year"),
    CheckConstraint("is_nationals = (detecting_iso3 = citizenship_iso3)", name="nationals"),
)
Index("ix_glotip_pair_citizenship", glotip_pair.c.citizenship_iso3, glotip_pair.c.year)

glotip_reporting = Table(
    "glotip_reporting",
    metadata,
    # the census: a country-year that reported a citizenship breakdown; an absent pair there is below the
    # listing threshold, not a known zero
    Column("detecting_iso3", String(3), ForeignKey("region.region_id"), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("n_citizenships", Integer, nullable=False),
    Column("release", String(20), nullable=False),
    Column("load_id", Integer, ForeignKey("source_load.load_id"), nullable=False),
    CheckConstraint("n_citizenships >= 1", name="n_citizenships"),
    CheckConstraint("year BETWEEN 1990 AND 2100", name="year"),
)

model_run = Table(
    "model_run",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("status", String(20), nullable=False),
    Column("level", Integer, nullable=False, default=0),
    Column("artefact_sha256", String(64), nullable=False),
    Column("panel_sha256", String(64), nullable=False),
    Column("metadata_json", JSON, nullable=False),
    Column("metrics_json", JSON, nullable=False),
    Column("deployed_at", DateTime(timezone=True), nullable=True),
    CheckConstraint("status IN ('candidate', 'deployed', 'archived')", name="status"),
)

prediction = Table(
    "prediction",
    metadata,
    Column("run_id", String(64), ForeignKey("model_run.run_id", ondelete="CASCADE"), primary_key=True),
    Column("region_id", String(32), ForeignKey("region.region_id"), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("level", Integer, nullable=False),
    Column("estimate_per_100k", Float, nullable=False),
    Column("lower_per_100k", Float, nullable=False),
    Column("upper_per_100k", Float, nullable=False),
    Column("risk_score", Float, nullable=False),
    Column("risk_band", String(20), nullable=False),
    Column("rank", Integer, nullable=True),
    Column("label_per_100k", Float, nullable=True),
    Column("method", String(40), nullable=False, default="model"),
    Column("has_subnational_data", Boolean, nullable=True),
    # staleness (migration 0006): checked = label year, nowcast = newest label 1-2 years old, projection =
    # older
    Column("basis", String(12), nullable=True),
    Column("horizon", Integer, nullable=True),  # predicted year minus the newest label year used (NULL: none)
    Column("label_year", Integer, nullable=True),
    Column("conflict_year", Integer, nullable=True),  # newest conflict input year behind the prediction
    Column("displacement_year", Integer, nullable=True),
    Column("small_population", Boolean, nullable=True),  # under 100,000 people: flagged in every ranking
    CheckConstraint("basis IS NULL OR basis IN ('checked', 'nowcast', 'projection')", name="basis"),
    CheckConstraint("risk_score >= 0 AND risk_score <= 100", name="score"),
    CheckConstraint("estimate_per_100k >= 0", name="estimate"),
    CheckConstraint(
        "lower_per_100k <= estimate_per_100k AND estimate_per_100k <= upper_per_100k", name="interval"
    ),
    CheckConstraint("risk_band IN ('low', 'moderate', 'high', 'very high')", name="band"),
    CheckConstraint("level IN (0, 1)", name="level"),
)
Index("ix_prediction_run_year", prediction.c.run_id, prediction.c.year, prediction.c.level)

explanation = Table(
    "explanation",
    metadata,
    Column("run_id", String(64), ForeignKey("model_run.run_id", ondelete="CASCADE"), primary_key=True),
    Column("region_id", String(32), ForeignKey("region.region_id"), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("feature", String(100), primary_key=True),
    Column("family", String(20), nullable=False),
    Column("value", Float, nullable=False),
    Column("feature_value", Float, nullable=True),
)
Index("ix_explanation_run_region", explanation.c.run_id, explanation.c.region_id, explanation.c.year)

# --- analyst workflows: accounts, tokens, audit, uploads, background jobs -----------------------------

ROLES = ("viewer", "analyst", "admin")

app_user = Table(
    "app_user",
    metadata,
    Column("user_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(80), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    Column("password_hash", String(300), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    # raised by logout, password change, role change and disabling: cookies of an older epoch are refused
    Column("session_epoch", Integer, nullable=False, default=0, server_default="0"),
    CheckConstraint("role IN ('viewer', 'analyst', 'admin')", name="role"),
    CheckConstraint("length(name) >= 2", name="name_len"),
)

api_token = Table(
    "api_token",
    metadata,
    Column("token_id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("app_user.user_id", ondelete="CASCADE"), nullable=False),
    Column("name", String(80), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_used_at", DateTime(timezone=True), nullable=True),
    Column("revoked", Boolean, nullable=False, default=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("audit_id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(120), nullable=False),
    Column("action", String(60), nullable=False),
    Column("target", String(300), nullable=True),
    Column("outcome", String(20), nullable=False),
    Column("detail", Text, nullable=True),
    Column("client", String(80), nullable=True),
    CheckConstraint("outcome IN ('ok', 'denied', 'refused', 'error')", name="outcome"),
)
Index("ix_audit_log_action_at", audit_log.c.action, audit_log.c.at)

upload = Table(
    "upload",
    metadata,
    Column("upload_id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(120), nullable=False),
    Column("source", String(60), nullable=False),
    Column("filename", String(300), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("status", String(20), nullable=False),
    Column("report_json", JSON, nullable=True),
    Column("staged_path", String(500), nullable=True),
    Column("job_id", Integer, nullable=True),  # the dry-run job while 'validating', then the load job
    CheckConstraint(
        "status IN ('validating', 'validated', 'refused', 'loading', 'loaded', 'failed', 'discarded', "
        "'cancelled')",
        name="status",
    ),
    CheckConstraint("size_bytes >= 0", name="size"),
)

job = Table(
    "job",
    metadata,
    Column("job_id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("requested_by", String(120), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("progress", Float, nullable=False, default=0.0),
    Column("message", Text, nullable=True),
    Column("log", Text, nullable=True),
    Column("result_json", JSON, nullable=True),
    Column("active_kind", String(20), nullable=True, unique=True),  # = kind while running: one at a time
    # who runs it, so a crashed server's jobs are recognised (issue 9 #1): host and process id of the owner,
    # a heartbeat written by a thread while it runs, and a cancel flag the job checks at its progress points
    Column("owner_host", String(255), nullable=True),
    Column("owner_pid", Integer, nullable=True),
    Column("heartbeat_at", DateTime(timezone=True), nullable=True),
    Column("cancel_requested", Boolean, nullable=False, default=False, server_default="0"),
    Column("upload_id", Integer, nullable=True),
    CheckConstraint("kind IN ('retrain', 'load', 'validate')", name="kind"),
    CheckConstraint("status IN ('running', 'succeeded', 'failed', 'cancelled')", name="status"),
    CheckConstraint("progress >= 0 AND progress <= 100", name="progress"),
)

etl_lock = Table(
    "etl_lock",
    metadata,
    # one row per lock name ('etl'): the primary key lets only one writer hold it (issue 9 #2)
    Column("name", String(40), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("owner_host", String(255), nullable=False),
    Column("owner_pid", Integer, nullable=False),
    Column("acquired_at", DateTime(timezone=True), nullable=False),
    Column("heartbeat_at", DateTime(timezone=True), nullable=False),
)

# --- crisis watch list and pair-model outputs (issue 11, migration 0007) ---------------------------------

watchlist_score = Table(
    "watchlist_score",
    metadata,
    Column("run_id", String(64), ForeignKey("model_run.run_id", ondelete="CASCADE"), primary_key=True),
    Column("region_id", String(32), ForeignKey("region.region_id"), primary_key=True),
    Column("year", Integer, primary_key=True),  # inputs dated <= year; looks at year+1..year+3
    Column("score", Float, nullable=False),  # expected change, log scale
    Column("rise_factor", Float, nullable=False),
    Column("lower", Float, nullable=False),
    Column("upper", Float, nullable=False),
    Column("rank", Integer, nullable=False),
    Column("percentile", Float, nullable=False),
    Column("top_driver", Text, nullable=True),
    Column("drivers_json", JSON, nullable=True),
    Column("displaced_abroad", Float, nullable=True),
    Column("displaced_abroad_year", Integer, nullable=True),
    Column("idps", Float, nullable=True),
    Column("idps_year", Integer, nullable=True),
    Column("hosted", Float, nullable=True),
    Column("hosted_year", Integer, nullable=True),
    Column("basis", String(300), nullable=False),
    Column("method", String(40), nullable=False),
    CheckConstraint(
        "rise_factor > 0 AND lower > 0 AND lower <= rise_factor AND rise_factor <= upper", name="interval"
    ),
    CheckConstraint("rank >= 1", name="rank"),
    CheckConstraint("percentile >= 0 AND percentile <= 100", name="percentile"),
)
Index("ix_watchlist_score_run_year", watchlist_score.c.run_id, watchlist_score.c.year)

pair_prediction = Table(
    "pair_prediction",
    metadata,
    Column("run_id", String(64), ForeignKey("model_run.run_id", ondelete="CASCADE"), primary_key=True),
    Column("detecting_iso3", String(32), ForeignKey("region.region_id"), primary_key=True),
    Column("citizenship_iso3", String(32), ForeignKey("region.region_id"), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("expected_victims", Float, nullable=False),
    Column("lower", Float, nullable=False),
    Column("upper", Float, nullable=False),
    Column("horizon", Integer, nullable=False),
    Column("last_listed_year", Integer, nullable=True),
    Column("last_listed_victims", Float, nullable=True),
    CheckConstraint(
        "lower >= 0 AND lower <= expected_victims AND expected_victims <= upper", name="interval"
    ),
    CheckConstraint("horizon >= 1", name="horizon"),
)
Index("ix_pair_prediction_run_citizenship", pair_prediction.c.run_id, pair_prediction.c.citizenship_iso3)

# --- crisis phases and alerts (issue 14, migration 0008)

ALERT_STATUSES = ("pending", "confirmed", "dismissed")
ALERT_CONDITIONS = (
    "new_maximum",
    "outflow_surge",
    "watchlist_enters_top",
    "watchlist_jump",
    "above_previous_upper",
)

phase_result = Table(
    "phase_result",
    metadata,
    Column("result_id", Integer, primary_key=True, autoincrement=True),
    Column("computed_at", DateTime(timezone=True), nullable=False),
    Column("watchlist_run_id", String(64), nullable=True),  # the run whose watch-list scores were an outcome
    Column("meta_json", JSON, nullable=False),  # design, rules, summaries (pre-trend, verdict), event counts
)

phase_curve = Table(
    "phase_curve",
    metadata,
    Column("result_id", Integer, ForeignKey("phase_result.result_id", ondelete="CASCADE"), primary_key=True),
    Column("event_type", String(30), primary_key=True),
    Column("outcome", String(30), primary_key=True),
    Column("k", Integer, primary_key=True),
    Column("effect", Float, nullable=True),  # log scale, net of year effects (placebo country-years)
    Column("lower", Float, nullable=True),  # pointwise 90% cluster-bootstrap interval
    Column("upper", Float, nullable=True),
    Column("n", Integer, nullable=False),  # events with a value at k
    Column("n_countries", Integer, nullable=False),
    CheckConstraint("n >= 0 AND n_countries >= 0", name="n"),
)

crisis_event = Table(
    "crisis_event",
    metadata,
    Column("result_id", Integer, ForeignKey("phase_result.result_id", ondelete="CASCADE"), primary_key=True),
    Column("region_id", String(32), ForeignKey("region.region_id"), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("event_type", String(30), primary_key=True),
    Column("value", Float, nullable=True),
    Column("previous", Float, nullable=True),
    Column("detail", Text, nullable=True),
    Column("onset", Boolean, nullable=False),  # the first year of a spell (the events the curves study)
)

alert_rule = Table(
    "alert_rule",
    metadata,
    Column("rule_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(80), nullable=False, unique=True),
    Column("condition", String(40), nullable=False),
    Column(
        "params_json", JSON, nullable=False
    ),  # thresholds of the condition (indicators, lookback, top_n ...)
    Column("minimum", Float, nullable=True),  # the value must also reach this (people, deaths, ...)
    Column("region_scope", String(500), nullable=False, default="*"),  # '*' or comma-separated ISO3
    Column("cooldown_years", Integer, nullable=False, default=2),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("description", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(120), nullable=False),
    CheckConstraint(
        "condition IN ('new_maximum', 'outflow_surge', 'watchlist_enters_top', 'watchlist_jump', "
        "'above_previous_upper')",
        name="condition",
    ),
    CheckConstraint("cooldown_years >= 0", name="cooldown"),
)

alert = Table(
    "alert",
    metadata,
    Column("alert_id", Integer, primary_key=True, autoincrement=True),
    Column("rule_id", Integer, ForeignKey("alert_rule.rule_id", ondelete="CASCADE"), nullable=False),
    Column("region_id", String(32), ForeignKey("region.region_id"), nullable=False),
    Column("period", Integer, nullable=False),  # the data year that fired
    Column("dedup_key", String(200), nullable=False, unique=True),  # rule:region:period: never twice
    Column("status", String(20), nullable=False, default="pending"),
    Column("value", Float, nullable=True),
    Column("threshold", Float, nullable=True),
    Column("message", Text, nullable=False),
    Column("evidence_json", JSON, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("evaluation_id", Integer, nullable=True),
    Column("reviewed_by", String(120), nullable=True),
    Column("reviewed_at", DateTime(timezone=True), nullable=True),
    Column("review_note", Text, nullable=True),
    CheckConstraint("status IN ('pending', 'confirmed', 'dismissed')", name="status"),
)
Index("ix_alert_status_created", alert.c.status, alert.c.created_at)

alert_evaluation = Table(
    "alert_evaluation",
    metadata,
    Column("evaluation_id", Integer, primary_key=True, autoincrement=True),
    Column("trigger", String(40), nullable=False),  # load, promote, rollback, cli, api
    Column("requested_by", String(120), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("status", String(20), nullable=False),
    Column("n_fired", Integer, nullable=True),
    Column("n_new", Integer, nullable=True),
    Column("message", Text, nullable=True),
    Column("backtest_json", JSON, nullable=True),  # every rule's backtest on the data of this evaluation
    CheckConstraint("status IN ('running', 'succeeded', 'failed')", name="status"),
)

alert_subscription = Table(
    "alert_subscription",
    metadata,
    Column("subscription_id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("app_user.user_id", ondelete="CASCADE"), nullable=False),
    Column("email", String(300), nullable=False),
    Column("regions", String(500), nullable=False, default="*"),  # '*' or comma-separated ISO3
    Column("rules", String(500), nullable=False, default="*"),  # '*' or comma-separated rule names
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("user_id", "email", name="uq_alert_subscription_user_email"),
)

alert_webhook = Table(
    "alert_webhook",
    metadata,
    Column("webhook_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(80), nullable=False, unique=True),
    Column("url", String(500), nullable=False),
    Column("secret_env", String(80), nullable=False),  # the environment variable that holds the HMAC secret
    Column("regions", String(500), nullable=False, default="*"),
    Column("rules", String(500), nullable=False, default="*"),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(120), nullable=False),
)

alert_delivery = Table(
    "alert_delivery",
    metadata,
    Column("delivery_id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, ForeignKey("alert.alert_id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("target", String(300), nullable=False),  # e-mail address or webhook name
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("alert_id", "channel", "target", name="uq_alert_delivery_alert_channel_target"),
    CheckConstraint("channel IN ('email', 'webhook')", name="channel"),
    CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status"),
    CheckConstraint("attempts >= 0", name="attempts"),
)

displacement_pair = Table(
    "displacement_pair",
    metadata,
    # UNHCR end-year stock of people from origin o in asylum country d (issue 11 pair model: diaspora of o in
    # d).
    # A second view of loaded unhcr_population rows (the same rows also feed the origin and host aggregates).
    Column("origin_iso3", String(3), ForeignKey("region.region_id"), primary_key=True),
    Column("asylum_iso3", String(3), ForeignKey("region.region_id"), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("refugees", Float, nullable=True),  # null: UNHCR published '-' or blank
    Column("asylum_seekers", Float, nullable=True),
    Column("load_id", Integer, ForeignKey("source_load.load_id"), nullable=False),
    CheckConstraint("refugees IS NULL OR (refugees >= 0 AND refugees <= 1e12)", name="refugees"),
    CheckConstraint(
        "asylum_seekers IS NULL OR (asylum_seekers >= 0 AND asylum_seekers <= 1e12)", name="asylum_seekers"
    ),
    CheckConstraint("refugees IS NOT NULL OR asylum_seekers IS NOT NULL", name="some_value"),
    CheckConstraint("origin_iso3 <> asylum_iso3", name="not_self"),
    CheckConstraint("year BETWEEN 1950 AND 2100", name="year"),
)
Index("ix_displacement_pair_asylum", displacement_pair.c.asylum_iso3, displacement_pair.c.year)

saved_scenario = Table(
    "saved_scenario",
    metadata,
    # A named what-if scenario (issue 15): the region, year and lever values, not its result (that is
    # recomputed
    # with whichever run is deployed when it is opened). Saving needs a viewer login and is audited.
    Column("scenario_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(120), nullable=False),
    Column("region_id", String(32), ForeignKey("region.region_id"), nullable=False),
    Column("year", Integer, nullable=False),
    Column("levers_json", JSON, nullable=False),
    Column("created_by", String(120), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("run_id", String(64), nullable=True),  # the run deployed when it was saved
    UniqueConstraint("created_by", "name", name="uq_saved_scenario_created_by_name"),
    CheckConstraint("length(name) > 0", name="name"),
    CheckConstraint("year BETWEEN 1950 AND 2100", name="year"),
)
