"""Stable component ids. Browser tests, the benchmark and other tools rely on these; do not rename.

``IDS`` maps a short purpose to the id used in the layout.
"""

from __future__ import annotations

# shell
NAV = "nav"
PAGE_CONTENT = "page-content"
USER_BOX = "user-box"

# map page (path "/")
MAP_GRAPH = "map-graph"
MAP_YEAR = "map-year"
MAP_METRIC = "map-metric"
MAP_COUNTRY = "map-country"
MAP_NAV = "map-nav"
MAP_NOTE = "map-note"
MAP_RISERS = "map-risers"  # largest rises since the previous year, for the colour shown
MAP_WATCHLIST = "map-watchlist"  # the side list: the watch list's top 15 for the year, with drivers
MAP_SKILL = "map-skill"  # the watch list's measured skill, in words
MAP_YEAR_NOTE = "map-year-note"  # what the selected score year looks at

# region page (path "/region/<region_id>")
REGION_STORE = "region-id"
REGION_YEAR = "region-year"
REGION_KPIS = "region-kpis"
REGION_TREND = "region-trend"
REGION_WATERFALL = "region-waterfall"
REGION_CHANGED = "region-changed"
REGION_DRIVERS = "region-drivers"
REGION_COVERAGE = "region-coverage"
REGION_ADMIN1 = "region-admin1"
REGION_ADMIN1_TABLE = "region-admin1-table"
REGION_PRINT = "region-print"
REGION_PRINT_DUMMY = "region-print-dummy"
REGION_BRIEF_PDF = "region-brief-pdf"  # link to the server-made PDF brief of the selected year
REGION_WATCH = "region-watch"  # the watch-list headline block (rank, rise, people exposed, basis, skill)
REGION_WATCH_DRIVERS = "region-watch-drivers"
REGION_WATCH_TREND = "region-watch-trend"
REGION_PAIRS = "region-pairs"  # where this population's victims are found (pair model)
REGION_DETECTED = "region-detected"  # detected in country: context, with its caveat

# priorities page (path "/priorities")
PRIO_YEAR = "priorities-year"
PRIO_LEVEL = "priorities-level"
PRIO_TABLE = "priorities-table"
PRIO_CSV = "priorities-csv"
PRIO_HXL = "priorities-hxl"
PRIO_DOWNLOAD = "priorities-download"
PRIO_COUNT = "priorities-count"
PRIO_MIN_POP = "priorities-min-population"
PRIO_LEGEND = "priorities-legend"  # what the detection gap and the other columns mean

# model page (path "/model")
MODEL_BACKTEST_TABLE = "model-backtest-table"
MODEL_METRIC = "model-metric"
MODEL_BASELINES = "model-baselines"
MODEL_CALIBRATION = "model-calibration"
MODEL_SHAP = "model-global-shap"
MODEL_CARD = "model-card"
MODEL_RUNS = "model-runs"

# data page (path "/data")
DATA_SOURCES = "data-sources"
DATA_REJECT_SOURCE = "data-reject-source"
DATA_REJECT_REASONS = "data-reject-reasons"
DATA_REJECT_EXAMPLES = "data-reject-examples"

# admin page (path "/admin"; analysts and admins). Ids starting with "admin-" are special: a callback that
# writes one needs the analyst role and a CSRF token (dashboard.auth.STATE_CHANGING_PREFIX).
ADMIN_WHO = "admin-who"
ADMIN_SOURCE = "admin-source"
ADMIN_SOURCE_HELP = "admin-source-help"
ADMIN_UPLOAD = "admin-upload"
ADMIN_REPORT = "admin-report"
ADMIN_UPLOAD_ID = "admin-upload-id"
ADMIN_CONFIRM = "admin-confirm"
ADMIN_RETRAIN = "admin-retrain"
ADMIN_MESSAGE = "admin-message"
ADMIN_POLL = "admin-poll"
ADMIN_JOBS = "admin-jobs"
ADMIN_RUNS_KEY = "admin-runs-key"
ADMIN_CANDIDATE = "admin-candidate"
ADMIN_COMPARE = "admin-compare"
ADMIN_PROMOTE = "admin-promote"
ADMIN_ROLLBACK = "admin-rollback"
ADMIN_UPLOADS = "admin-uploads"
ADMIN_JOB_HISTORY = "admin-job-history"
ADMIN_AUDIT = "admin-audit"

IDS: dict[str, str] = {k.lower(): v for k, v in dict(globals()).items() if k.isupper() and isinstance(v, str)}
