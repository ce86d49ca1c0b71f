# syntax=docker/dockerfile:1
# Lyceum image: uvicorn (HTTP + WebSocket) by default, with the systemd unit's command line
# (deploy/uvicorn-serve); the same image runs the Celery worker and beat (docker-compose.yml
# gives them their own command), and daphne is installed too. Static files are collected at build time and served by
# WhiteNoise from the image.

# --- build: compile mysqlclient and install the pinned dependencies into a venv ------------
FROM python:3.12-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends default-libmysqlclient-dev build-essential pkg-config \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH" \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
COPY requirements.txt constraints.txt /tmp/
RUN pip install -r /tmp/requirements.txt -c /tmp/constraints.txt

# --- runtime: no compiler, only the MariaDB/MySQL client library -------------------------
FROM python:3.12-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmariadb3 \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 lyceum \
    && useradd --system --uid 10001 --gid lyceum --home-dir /app --shell /usr/sbin/nologin lyceum
ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=config.settings \
    MEDIA_ROOT=/app/media
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=lyceum:lyceum . /app
# Dummy secret and host for this one step only: production settings refuse to start without them.
RUN DJANGO_DEBUG=false DJANGO_SECRET_KEY=collectstatic-only-not-a-real-secret DJANGO_ALLOWED_HOSTS=localhost \
      HELPDESK_DOCUMENT_KEYS=collectstatic-only-not-a-real-key SITE_URL=https://collectstatic.invalid \
      python manage.py collectstatic --noinput \
    && mkdir -p /app/media /app/private-media/helpdesk /var/lib/lyceum/beat \
    && chown -R lyceum:lyceum /app/media /app/private-media /app/staticfiles /var/lib/lyceum
USER lyceum
EXPOSE 8000
# One uvicorn process per container, as deploy/uvicorn-serve runs it under systemd (the options
# and their reasons are there): listening on every interface of the container, on 8000. Scale
# with more containers (compose replicas), not --workers. X-Forwarded-For/-Proto are believed
# from $FORWARDED_ALLOW_IPS only (addresses or networks; unset: 127.0.0.1, i.e. from no proxy,
# since none runs in this container); docker-compose.yml sets it to its own network.
# SIGTERM: uvicorn closes every WebSocket with 1012 and gives HTTP requests in flight 10 s,
# so the engine's stop timeout (compose's stop_grace_period) must be longer than that.
STOPSIGNAL SIGTERM
CMD ["/app/deploy/uvicorn-serve", "0.0.0.0", "8000"]
