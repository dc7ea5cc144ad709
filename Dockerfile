# TaskManager server and callback worker.
#   docker build -t taskmanager .
#   docker run IMAGE            -> the server (gunicorn) on TASKMANAGER_PORT (5000)
#   docker run IMAGE worker     -> the callback worker
# Configuration is by environment variables only (docs/configuration.md).
# BASE_IMAGE: any Debian-based Python 3.11 with `python` and `pip` on PATH; scripts/docker-smoke
# passes one built from Debian packages where no image registry is reachable.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TASKMAN_INSTANCE_PATH=/var/lib/taskmanager \
    TASKMANAGER_PORT=5000

# git: PROJECT_REPO (configuration and templates kept in a repository) is cloned at start.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml README.md ./
COPY taskmanager ./taskmanager
RUN pip install ".[sentry]" && rm -rf /src

# chmod rather than COPY --chmod, which the classic builder (docker-compose 1.x) refuses.
COPY docker/entrypoint.sh /usr/local/bin/taskmanager-entrypoint
RUN chmod 0755 /usr/local/bin/taskmanager-entrypoint \
    && useradd --system --create-home --uid 10001 --user-group taskmanager \
    && mkdir -p /var/lib/taskmanager \
    && chown taskmanager:taskmanager /var/lib/taskmanager

USER taskmanager
WORKDIR /var/lib/taskmanager
VOLUME ["/var/lib/taskmanager"]
EXPOSE 5000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/-/healthy' % os.environ.get('TASKMANAGER_PORT', '5000'), timeout=4)" || exit 1

ENTRYPOINT ["taskmanager-entrypoint"]
CMD ["server"]
