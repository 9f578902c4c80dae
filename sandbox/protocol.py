"""What the sandbox's emulated vendors do alike when they read a request and
answer it: refusals that carry the vendor's code, values quoted in messages,
strict form and JSON bodies, the frame of an API endpoint (POST only,
refusals answered and logged alike) and of an unknown path. Each vendor
module keeps only its vendor's protocol: its codes, messages and checks.

Written for the emulators, like them independent of the portal's code.
"""

import base64
import binascii
import json
import logging
from functools import wraps
from urllib.parse import parse_qsl, urlsplit

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

logger = logging.getLogger(__name__)

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
MULTIPART = "multipart/form-data"


class Refusal(Exception):
    """A request the vendor refuses with `code`.

    `detail` may quote what was sent, so it goes into the answer only, never
    into the log; `field` names what was wrong, for the log.
    """

    def __init__(self, code, detail="", *, field=""):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.field = field


def quoted(value, limit=40):
    """A value the caller sent, for a message: repr'd, and cut short."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


def origin(url: str) -> str:
    """`scheme://host[:port]` of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def clock_skew_seconds():
    # How far a signed timestamp may stray from the sandbox's clock. Read per
    # request so tests (and a tester in a hurry) can change it.
    return getattr(settings, "SANDBOX_CLOCK_SKEW_SECONDS", 300)


# --- Answers ------------------------------------------------------------------------------


def vendor_json(body, *, status=200):
    """A vendor's JSON answer: messages go out as UTF-8 Chinese, not \\u
    escapes, and the header says so."""
    return JsonResponse(
        body,
        status=status,
        content_type="application/json; charset=utf-8",
        json_dumps_params={"ensure_ascii": False},
    )


def api_endpoint(*, vendor, endpoint, bad_request_code, refuse):
    """The frame of one emulated vendor API endpoint.

    Any method but POST is answered with HTTP 405, `Allow: POST` and the
    vendor's own refusal (`bad_request_code`), so a client reading only the
    code sees a refusal too. A Refusal raised by the view is answered with
    `refuse(refusal)`, the vendor's refusal body (HTTP 200, as the vendors
    answer), and logged by vendor, endpoint, code and field.
    """

    def answered(refusal):
        logger.warning(
            "%s %s refused: code=%s field=%s", vendor, endpoint, refusal.code, refusal.field or "-"
        )
        return refuse(refusal)

    def decorate(view):
        @csrf_exempt
        @never_cache
        @wraps(view)
        def endpoint_view(request, *args, **kwargs):
            if request.method != "POST":
                wrong_method = Refusal(bad_request_code, f"{endpoint} only accepts POST", field="method")
                response = answered(wrong_method)
                response.status_code = 405
                response["Allow"] = "POST"
                return response
            try:
                return view(request, *args, **kwargs)
            except Refusal as refusal:
                return answered(refusal)

        return endpoint_view

    return decorate


def unknown_path(*, vendor, answer):
    """The view for any other path under a vendor's prefix, any method:
    `answer()` is that vendor's way of saying there is no such API."""

    @csrf_exempt
    def view(request):
        response = answer()
        logger.warning("%s unknown path: HTTP %s", vendor, response.status_code)
        return response

    return view


# --- Request bodies -----------------------------------------------------------------------


def declared_length(request):
    """The body's Content-Length; 0 when absent or not a number."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def require_content_type(request, accepted, *, code):
    """The body's media type (a charset parameter is fine) if it is one of
    `accepted`; other bodies are refused rather than guessed at."""
    content_type = (request.content_type or "").lower()
    if content_type not in accepted:
        sent = quoted(request.content_type or "(none)")
        raise Refusal(
            code, f"this API takes Content-Type {' or '.join(accepted)}, got {sent}", field="content-type"
        )
    return content_type


def only_value(name, given, *, code):
    """The one value of a parameter (None when absent). A parameter given
    twice has no documented meaning: it is refused, not guessed at."""
    if len(given) > 1:
        raise Refusal(code, f"parameter {name} is given {len(given)} times", field="repeated-parameter")
    return given[0] if given else None


def read_form(request, *, code, too_large_code, max_bytes, max_fields=50):
    """The parameters of an application/x-www-form-urlencoded body as a
    dict, strictly: that Content-Type, nothing in the query string, valid
    UTF-8 form encoding, each parameter once. Refusal(code) otherwise, and
    Refusal(too_large_code) for a body over `max_bytes`, refused unread."""
    require_content_type(request, (FORM,), code=code)
    # Every parameter belongs in the body; one in the query string is more
    # likely a client bug than a choice, so say so.
    if request.GET:
        names = ", ".join(sorted(request.GET))
        raise Refusal(
            code, f"parameters belong in the form body, not the query string ({names})", field="query-string"
        )
    length = declared_length(request)
    if length > max_bytes:
        raise Refusal(too_large_code, f"the body is {length} bytes, far over the limit", field="body-size")
    # Read straight from the stream: Django's request.POST would stop at
    # DATA_UPLOAD_MAX_MEMORY_SIZE, below what some vendors allow, and would
    # decode a malformed body leniently.
    raw = request.read()
    try:
        pairs = parse_qsl(
            raw.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=bool(raw),
            encoding="utf-8",
            errors="strict",
            max_num_fields=max_fields,
        )
    except (UnicodeDecodeError, ValueError):
        raise Refusal(
            code, "the body is not valid application/x-www-form-urlencoded UTF-8", field="encoding"
        ) from None
    values = {}
    for name, value in pairs:
        values.setdefault(name, []).append(value)
    return {name: only_value(name, given, code=code) for name, given in values.items()}


def json_object(body: bytes) -> dict:
    """The JSON object a body holds; ValueError saying why not."""
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ValueError("the body is not valid UTF-8 JSON") from None
    if not isinstance(document, dict):
        raise ValueError("the JSON body must be an object")
    return document


def strict_b64decode(text):
    """Standard base64 with padding, nothing else (no urlsafe alphabet, no
    spaces or line breaks); ValueError otherwise."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not standard base64") from None


def base64_text(data: bytes) -> str:
    """Bytes (a JPEG) as the base64 text a vendor's JSON carries."""
    return base64.b64encode(data).decode("ascii")
