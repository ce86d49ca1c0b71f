"""Log records carry the request id and user id; JSON output when LOG_FORMAT=json."""

import json
import logging

from config.middleware import request_id_var, user_id_var

REQUEST_LOGGER = "lyceum.request"
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class RequestContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.user_id = user_id_var.get()
        return True


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
                payload[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.name == REQUEST_LOGGER and isinstance(record.args, tuple) and len(record.args) == 4:
            # config.middleware's one line a request: also as fields, for log queries
            method, path, status, duration_ms = record.args
            payload.update(method=method, path=path, status=status, duration_ms=round(float(duration_ms), 1))
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload)
