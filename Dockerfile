# Slim multi-stage image. The install step is the one .ci/run exercises (a venv, then pip install of this
# project with its extras); CI runs it on every change, this image cannot be built on the CI machine.
#   docker build -t crisisrisk .
#   docker run -p 8050:8050 -e CRISISRISK_SECRET_KEY=... crisisrisk      (SQLite inside the container)
#   docker compose up                                                       (PostgreSQL, see compose.yaml)
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY warehouse ./warehouse
COPY etl ./etl
COPY models ./models
COPY dashboard ./dashboard
COPY crisisrisk ./crisisrisk
# xgboost-cpu (the project's default) keeps the image free of the 469 MB CUDA libraries; a GPU image would add
# [gpu] and swap the module as the README says ("GPU training")
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install ".[postgres]"

FROM python:3.11-slim
# libgomp1: XGBoost's OpenMP runtime (not in the slim base); curl-free healthcheck uses Python.
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin crisisrisk \
    && mkdir -p /app/data/models && chown -R crisisrisk:crisisrisk /app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=crisisrisk:crisisrisk data/raw ./data/raw
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CRISISRISK_RAW_DIR=/app/data/raw \
    CRISISRISK_DATA_DIR=/app/data \
    CRISISRISK_MODEL_DIR=/app/data/models
USER crisisrisk
EXPOSE 8050
VOLUME ["/app/data/models"]
# start-period: the first start runs the ETL and trains a model before it serves (see `crisisrisk up`)
HEALTHCHECK --interval=30s --timeout=5s --start-period=30m --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8050/api/v1/health', timeout=4).status == 200 else 1)"]
CMD ["crisisrisk", "up", "--host", "0.0.0.0", "--port", "8050"]
