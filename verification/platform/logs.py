"""Logs as one JSON object a line (LOG_FORMAT=json, the default with DEBUG
off), each carrying the id of the request or task it belongs to, so one
person's steps can be followed across web processes and workers. What is
logged never holds a name, an ID number, a token or a body: modules log
ids, vendor codes and latencies only, and every handler (gunicorn's access
and error logs too, kyc_portal/gunicorn_logging.py) passes each record
through `RedactFilter`, which rewrites what a server logs by itself: the
link token in `/v/<token>/…`, the hand-off code in `/h/<code>`, query
strings (an admin search `?q=<ID number>`), ID numbers and vendor face-image
URLs, in the message, its arguments and its traceback."""

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


# --- redaction ----------------------------------------------------------------------

REDACTED = "<redacted>"

# What lets a log's reader act as a person, or says who they are. The
# patterns are compiled once, and each runs only where a substring test or
# a search for its fixed part (far cheaper than the pattern scanning every
# position of the line) says it may match: most lines hold none of these.
_IMAGE_EXTENSION = re.compile(r"\.(?:jpe?g|png|webp|bmp|gif)\b", re.IGNORECASE)
# A face image's URL, whole (Juhe puts the file name in the query) …
_IMAGE_URL = re.compile(r"""https?://[^\s"'<>]*?\.(?:jpe?g|png|webp|bmp|gif)\b[^\s"'<>]*""", re.IGNORECASE)
# … or its file name in a path (the vendor's face URL without its host:
# /sandbox/jumdata/face/<token>.jpg in the emulated vendor's access log).
_IMAGE_FILE = re.compile(r"""(?<=/)[^/?#\s"'<>]+\.(?:jpe?g|png|webp|bmp|gif)\b""", re.IGNORECASE)
# The link token of /v/<token>/…, the hand-off code of /h/<code>.
_LINK_SECRET = re.compile(r"""(/[vh]/)[^/?#\s"'<>]+""")
# A query string: an admin search ?q=<ID number or name>, the vendor page's ?token=.
_QUERY = re.compile(r"""\?[^\s"'<>#]+""")
# GB 11643: 17 digits and a check character, not inside a longer word
# ([0-9], not \d: the Unicode digit class is three times slower to scan).
_ID_NUMBER = re.compile(r"[0-9](?<![0-9A-Za-z][0-9])[0-9]{16}[0-9Xx](?![0-9A-Za-z])")


def redact(text: str) -> str:
    if _IMAGE_EXTENSION.search(text):
        text = _IMAGE_FILE.sub(REDACTED, _IMAGE_URL.sub(REDACTED, text))
    if "/v/" in text or "/h/" in text:
        text = _LINK_SECRET.sub(r"\1" + REDACTED, text)
    if "?" in text:
        text = _QUERY.sub("?" + REDACTED, text)
    return _ID_NUMBER.sub(REDACTED, text)


_TRACEBACKS = logging.Formatter()


class RedactFilter(logging.Filter):
    """Rewrites a record so that no handler can write a link token, a
    hand-off code, a query string, an ID number or a face-image URL: the
    message is formatted with its arguments and redacted (so an argument's
    own text is too, a dict of gunicorn's access-log atoms included), and
    the traceback is formatted into `exc_text`, redacted, which formatters
    use instead of formatting `exc_info` again. Applied to handlers, not
    loggers: a logger's filters skip the records its children pass up."""

    def filter(self, record):
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 (a broken call must not print its raw arguments either)
            message = f"{record.msg!r} with arguments {record.args!r} (they did not fit the message)"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
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
        # Formatted (and redacted) by RedactFilter already, when it ran.
        exception = record.exc_text or (self.formatException(record.exc_info) if record.exc_info else "")
        if exception:
            entry["exception"] = exception
        return json.dumps(entry, ensure_ascii=False)
