"""Logs as one JSON object a line (LOG_FORMAT=json, the default with DEBUG
off), each carrying the id of the request or task it belongs to, so one
person's steps can be followed across web processes and workers. What is
logged never holds a name, an ID number, a token or a body: modules log
ids, vendor codes and latencies only."""

import contextvars
import json
import logging
import re
import uuid
from datetime import datetime, timezone

request_id = contextvars.ContextVar("request_id", default="-")

# A proxy's request id is kept when it looks like one; anything else (it
# could be written by the client) is replaced.
_USABLE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    """Gives each request an id (the proxy's X-Request-ID, or a new one),
    for every log line it causes and for the answer's X-Request-ID."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        current = incoming if _USABLE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id.set(current)
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
        response["X-Request-ID"] = current
        return response


def task_request_id(sender, task_result, **kwargs):
    """Tasks log under `task-<id>` (connected to Django Tasks' task_started)."""
    request_id.set(f"task-{task_result.id}")


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record):
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)
