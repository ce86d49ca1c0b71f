"""Log records carry the request id and user id; JSON output when LOG_FORMAT=json.

With LOG_FORMAT=json every line a process writes is one JSON object: Lyceum's own access lines
(`lyceum.request` for each HTTP request, `lyceum.socket` for each WebSocket; daphne's plain
access log is switched off where Lyceum runs daphne for real), Django's and the libraries' log
records, and Python warnings (routed through logging by `configure`).
"""

import json
import logging
import logging.config
import time

from django.http import HttpRequest

from config.middleware import loggable_path, request_id_var, user_id_var

REQUEST_LOGGER = "lyceum.request"
socket_logger = logging.getLogger("lyceum.socket")
# uvicorn's records carry an ANSI-coloured copy of the message: not for a JSON line.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "color_message",
    "path_redacted",
}


def configure(settings: dict) -> None:
    """LOGGING_CONFIG: Django's dictConfig, plus Python warnings as log records (a warning is
    otherwise a plain line on stderr in the middle of the JSON stream)."""
    logging.config.dictConfig(settings)
    logging.captureWarnings(True)


def log_socket(scope: dict, *, outcome: str, started: float, close_code: int | None = None) -> None:
    """The access line of one WebSocket, when it ends: `accepted` (then closed) or `refused`
    (before the handshake completed), how long it lived and the server's close code if any."""
    client = scope.get("client") or ("", 0)
    duration_ms = round((time.monotonic() - started) * 1000, 1)
    socket_logger.info(
        "WS %s %s %s %.1fms",
        scope.get("path", ""),
        outcome,
        close_code if close_code is not None else "-",
        duration_ms,
        extra={
            "path": scope.get("path", ""),
            "client": client[0],
            "outcome": outcome,
            "close_code": close_code,
            "duration_ms": duration_ms,
        },
    )


class RequestContextFilter(logging.Filter):
    """The request id and user id of the request being served. Records logged after the request
    left the middleware (django.request's 4xx/5xx warnings) carry the request itself instead;
    their message names the request's path, shown as config.middleware.loggable_path has it."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if isinstance(request, HttpRequest) and not getattr(record, "path_redacted", False):
            # django.request's "Bad Request: <path>" names the path: as loggable_path shows it.
            message = record.getMessage()
            record.msg = message.replace(request.path, loggable_path(request))
            record.args = ()
            record.path_redacted = True
        record.request_id = request_id_var.get()
        if record.request_id == "-":
            record.request_id = getattr(request, "request_id", "-")
        record.user_id = user_id_var.get()
        if record.user_id == "-":
            record.user_id = getattr(request, "log_user_id", "-")
        return True


def loggable(value: object) -> str:
    """A record's extra value as text. A request (django.request's 4xx/5xx records carry one) is
    its method and loggable path only (config.middleware.loggable_path): its query string or
    its path can carry a secret (a live ticket, a reset token), and a secret must not land in
    the logs."""
    if isinstance(value, HttpRequest):
        return f"{value.method} {loggable_path(value)}"
    return str(value)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = value if isinstance(value, (str, int, float, bool, type(None))) else loggable(value)
        if record.name == REQUEST_LOGGER and isinstance(record.args, tuple) and len(record.args) == 4:
            # config.middleware's one line a request: also as fields, for log queries
            method, path, status, duration_ms = record.args
            payload.update(method=method, path=path, status=status, duration_ms=round(float(duration_ms), 1))
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload)
