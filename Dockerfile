# syntax=docker/dockerfile:1
# Lyceum image: daphne (HTTP + WebSocket) by default; the same image runs the Celery worker
# and beat (see docker-compose.yml). Static files are collected at build time and served by
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
# --proxy-headers: behind the proxy, the client address and scheme come from X-Forwarded-For
# and X-Forwarded-Proto (throttles and the login lock-out see clients, not the proxy).
# --access-log /dev/null: Lyceum logs each request and socket itself (config.middleware,
# live.auth), as JSON with LOG_FORMAT=json; daphne's own lines are plain text.
# -e lyceum:tcp:…: Lyceum's listen endpoint (config.http_endpoint): request bodies reach Django
# unparsed, so a malformed multipart body gets Django's JSON/HTML 400, not Twisted's bare one.
# --websocket-max-*-size 66560: a WebSocket message above live.consumer.SERVER_MAX_MESSAGE_BYTES
# closes the socket (1009) before it is buffered (daphne's default: 1 MiB). No Server header.
CMD ["daphne", "--proxy-headers", "--websocket-max-message-size", "66560", "--websocket-max-frame-size", "66560", "--no-server-name", "--access-log", "/dev/null", "-e", "lyceum:tcp:port=8000:interface=0.0.0.0", "config.asgi:application"]
