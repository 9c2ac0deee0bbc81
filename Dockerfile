# syntax=docker/dockerfile:1
# tarve's image: the API (default command), the MLflow server and the one-shot trainer
# all run from it, so every part has the versions of requirements.lock.
#   docker build -t tarve:local .        (docker compose build does the same)
# No secret is baked in: every setting comes from the environment at run time.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: a virtualenv with the locked dependencies and tarve itself ----------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --quiet "uv==0.13.9"
WORKDIR /src
# Dependencies first (a layer that changes only with the lock): tarve's runtime
# dependencies from pyproject.toml, each pinned by the lock file; no dev tools.
COPY requirements.lock pyproject.toml README.md ./
RUN /opt/venv/bin/uv pip install --python /opt/venv/bin/python \
        --constraint requirements.lock -r pyproject.toml
COPY models models
COPY training training
COPY fairness fairness
COPY service service
COPY tarve tarve
RUN /opt/venv/bin/uv pip install --python /opt/venv/bin/python --no-deps . \
    && /opt/venv/bin/pip uninstall --quiet --yes uv

# ---- runtime: the virtualenv, a non-root user, nothing else -----------------------------
FROM ${PYTHON_IMAGE} AS runtime
# libgomp1: LightGBM's OpenMP runtime.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 tarve \
    && useradd --system --uid 10001 --gid tarve --home-dir /var/lib/tarve --create-home \
        --shell /usr/sbin/nologin tarve \
    && install --directory --owner tarve --group tarve /mlartifacts
COPY --from=build /opt/venv /opt/venv
COPY deploy/logging.yaml deploy/train.sh /app/deploy/
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TARVE_HOME=/var/lib/tarve \
    MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=false \
    UVICORN_HOST=0.0.0.0 \
    UVICORN_PORT=8000 \
    WEB_CONCURRENCY=2 \
    FORWARDED_ALLOW_IPS=127.0.0.1
USER 10001:10001
EXPOSE 8000
# Ready means a model is loaded and the audit-log database answers (503 otherwise).
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('UVICORN_PORT', '8000') + '/readyz', timeout=4)" || exit 1
# The API under uvicorn's process manager: WEB_CONCURRENCY workers, each with its own
# copy of the model; host, port and the other server options from UVICORN_* variables,
# the app's settings from TARVE_* variables. No access log: a refused request's URL may
# hold an identity code, and the audit log records every call that matters.
CMD ["uvicorn", "--factory", "service.app:create_app", "--log-config", "/app/deploy/logging.yaml", "--no-access-log", "--no-server-header", "--proxy-headers", "--timeout-graceful-shutdown", "20"]
