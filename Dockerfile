# Slim multi-stage image; the install steps match .ci/run.
FROM python:3.11-slim AS build
WORKDIR /app
COPY pyproject.toml README.md ./
COPY etl ./etl
COPY models ./models
COPY dashboard ./dashboard
COPY crisisrisk ./crisisrisk
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir --upgrade pip \
    && /opt/venv/bin/pip install --no-cache-dir ".[postgres]"

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 crisisrisk
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=crisisrisk:crisisrisk data/raw ./data/raw
ENV PATH=/opt/venv/bin:$PATH \
    CRISISRISK_RAW_DIR=/app/data/raw \
    CRISISRISK_DATA_DIR=/app/data
USER crisisrisk
EXPOSE 8050
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8050/api/v1/health', timeout=4).status == 200 else 1)"
CMD ["crisisrisk", "up", "--host", "0.0.0.0", "--port", "8050"]
