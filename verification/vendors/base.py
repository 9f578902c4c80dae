"""What every vendor client shares: the error hierarchy, the one function
through which vendor HTTP goes (it leaves a VendorCall row whatever
happens), redaction of what that row keeps, and the retry policy."""

import functools
import logging
import os
import re
import time
import urllib.parse
from dataclasses import dataclass, field

import requests
import urllib3

from ..idcard import mask_idcard, mask_name
from .breaker import breaker_allows, breaker_record

logger = logging.getLogger(__name__)

# One pooled HTTP session per process: vendor calls reuse TLS connections.
# requests would read proxies, CA bundle and ~/.netrc from the environment on
# every call (a scan of os.environ, a file lookup); they are read once here,
# proxies once per vendor host, which honours NO_PROXY as requests does.
_http = requests.Session()
_http.trust_env = False
_http.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True


@functools.lru_cache(maxsize=32)
def _proxies_for(origin: str) -> dict:
    return requests.utils.get_environ_proxies(origin)


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# --- errors -------------------------------------------------------------------


class VendorError(Exception):
    """A vendor call did not give a usable answer.

    `permanent`: trying again the same way cannot help (bad credentials,
    service not enabled). `billed`: True/False as the vendor defines it, None
    when unknown (the request left but no answer came back). `reached`: the
    vendor may have received the request; a billed call is never repeated
    unless this is False.
    """

    def __init__(
        self,
        message: str,
        *,
        vendor: str,
        endpoint: str,
        code=None,
        http_status: int | None = None,
        permanent: bool = False,
        billed: bool | None = False,
        reached: bool = True,
        request_id: str = "",
    ):
        super().__init__(message)
        self.vendor = vendor
        self.endpoint = endpoint
        self.code = code
        self.http_status = http_status
        self.permanent = permanent
        self.billed = billed
        self.reached = reached
        self.request_id = request_id


class VendorConnectionError(VendorError):
    """No answer: the connection failed or timed out."""


class CircuitOpen(VendorConnectionError):
    """The portal is not calling this vendor for a while after repeated
    failures (breaker.py); nothing was sent."""


class VendorResponseError(VendorError):
    """An answer that is not what the protocol promises (HTML, garbage,
    missing fields, a 5xx page)."""


class VendorRejected(VendorError):
    """The vendor answered with one of its documented error codes."""


# --- retry policy (pure functions; the tasks apply them) ---------------------


def should_retry(error: VendorError, *, retryable_codes=frozenset(), billed_call: bool) -> bool:
    """Whether calling again can help and cannot bill twice."""
    if error.permanent:
        return False
    if billed_call and error.reached:
        return False
    if isinstance(error, (VendorConnectionError, VendorResponseError)):
        # No usable answer came back (a proxy's HTML page, a 5xx, garbage):
        # asking again is the only way to learn the outcome.
        return True
    return error.code in retryable_codes


def backoff_seconds(attempt: int, *, base: float = 1.0, cap: float = 30.0) -> float:
    """Exponential backoff: 1, 2, 4, 8 … seconds, never more than `cap`.
    `attempt` counts from 0."""
    return min(base * (2**attempt), cap)


def code_lookup(table: dict, unknown):
    """`describe(code)` for a vendor's code table: the entry, or `unknown`
    for a code the documents do not list (or that is not a number)."""

    def describe(code):
        try:
            return table[int(code)]
        except (TypeError, ValueError, KeyError):
            return unknown

    return describe


# --- redaction ----------------------------------------------------------------

SECRET_FIELDS = frozenset({"sign", "appSecret", "key", "authorization", "Authorization", "secret"})
# Bearer-like handles (a vendor token opens the vendor's page): kept short.
TOKEN_FIELDS = frozenset({"token"})
IDCARD_FIELDS = frozenset({"idcard", "idcard_number"})
NAME_FIELDS = frozenset({"realname", "idcard_name"})
MAX_SUMMARY_STRING = 200
# Any URL, wherever it stands (Jumdata's `faceImageUrl`, Juhe's `pictures`,
# the `url` Tencent is asked to compare, our own returnUrl with its link
# token): a vendor's picture URL is a bearer link to a face, and nobody needs
# it once the picture is fetched, so only the scheme and host are kept, which
# say whose server it was. The user-info part never survives either.
_URL = re.compile(r"(?i)\b(https?)://(?:[^/?#\s@]*@)?([^/?#\s@\"'<>]+)[^\s\"'<>]*")
# What erasure empties in a stored summary: even masked, a name and an ID
# number (its region code and last four) narrow down who it was. What else
# stays is no one's: codes, scores, order numbers, lip codes, blob sizes, and
# six characters of a dead vendor token on a row that names its session anyway.
PERSONAL_FIELDS = IDCARD_FIELDS | NAME_FIELDS
ERASED = "<erased>"


def redact_urls(text: str) -> str:
    """`text` with each URL cut to its scheme and host."""
    return _URL.sub(r"\1://\2/…", text)


def redact(value, key: str = ""):
    """A copy of a request or response body that is safe to store: no
    secret, no base64 blob, no name or ID number in clear, no URL past its
    host."""
    if isinstance(value, dict):
        return {k: redact(v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v, key) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    if not isinstance(value, str):
        return value
    if key in SECRET_FIELDS:
        return "***"
    if key in TOKEN_FIELDS:
        return shorten_secret(value)
    if key in IDCARD_FIELDS:
        return mask_idcard(value)
    if key in NAME_FIELDS:
        return mask_name(value)
    if len(value) > MAX_SUMMARY_STRING:
        return f"<{len(value)} characters>"
    return redact_urls(value)


def erase_personal(summary):
    """A stored summary with nothing personal left, for the retention purge
    and erasure: personal fields emptied, and URLs cut to their host again
    (rows written before redact() cut them held them whole)."""
    if isinstance(summary, dict):
        return {k: ERASED if k in PERSONAL_FIELDS else erase_personal(v) for k, v in summary.items()}
    if isinstance(summary, list):
        return [erase_personal(v) for v in summary]
    if isinstance(summary, str):
        return redact_urls(summary)
    return summary


def shorten_secret(value: str) -> str:
    """Enough of a token to match it against logs, not enough to use it."""
    return value[:6] + "…" if len(value) > 6 else value


# --- transport ----------------------------------------------------------------


@dataclass
class VendorCallRecord:
    """What one call leaves behind; the vendor module fills in the vendor's
    own fields once it has read the answer."""

    vendor: str
    endpoint: str
    session: object = None
    request_summary: dict = field(default_factory=dict)
    http_status: int | None = None
    vendor_code: str = ""
    billed: bool | None = False
    request_id: str = ""
    response_summary: dict = field(default_factory=dict)
    error: str = ""
    latency_ms: int = 0

    def save(self):
        from ..models import VendorCall

        VendorCall.objects.create(
            session=self.session,
            vendor=self.vendor,
            endpoint=self.endpoint,
            http_status=self.http_status,
            vendor_code=self.vendor_code,
            billed=self.billed,
            request_id=self.request_id[:64],
            error=self.error[:255],
            latency_ms=self.latency_ms,
            request_summary=self.request_summary,
            response_summary=self.response_summary,
        )
        logger.info(
            "vendor=%s endpoint=%s http=%s code=%s billed=%s request_id=%s latency_ms=%s%s",
            self.vendor,
            self.endpoint,
            self.http_status,
            self.vendor_code or "-",
            self.billed,
            self.request_id or "-",
            self.latency_ms,
            f" error={self.error}" if self.error else "",
        )


class vendor_call:
    """Context manager around one vendor call: `send` makes the HTTP request
    (with a required timeout) and the record is saved on exit, whether the
    block finished or raised."""

    def __init__(self, *, vendor: str, endpoint: str, session=None, request_summary: dict):
        self.record = VendorCallRecord(
            vendor=vendor, endpoint=endpoint, session=session, request_summary=redact(request_summary)
        )
        self._started = 0.0
        self._sent = False

    def __enter__(self):
        self._started = time.monotonic()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.record.latency_ms = round((time.monotonic() - self._started) * 1000)
        if exc is not None:
            # A vendor's message may quote a URL it failed to fetch.
            self.record.error = redact_urls(f"{type(exc).__name__}: {exc}")
            if isinstance(exc, VendorError):
                self.record.billed = exc.billed
                if exc.code is not None:
                    self.record.vendor_code = str(exc.code)
                self.record.request_id = self.record.request_id or exc.request_id
        self.record.save()
        if self._sent:
            breaker_record(self.record.vendor, failed=_is_outage(exc, self.record.http_status))
        return False

    def send(self, method: str, url: str, *, timeout, **kwargs) -> requests.Response:
        if not breaker_allows(self.record.vendor):
            raise CircuitOpen(
                f"not calling {self.record.endpoint}: {self.record.vendor} failed repeatedly, the breaker is open",
                vendor=self.record.vendor,
                endpoint=self.record.endpoint,
                reached=False,
                billed=False,
            )
        self._sent = True
        try:
            response = _http.request(method, url, timeout=timeout, allow_redirects=False,
                                     proxies=_proxies_for(_origin(url)), **kwargs)
        except requests.RequestException as exc:
            reached = _may_have_reached(exc)
            raise VendorConnectionError(
                f"{type(exc).__name__} calling {self.record.endpoint}",
                vendor=self.record.vendor,
                endpoint=self.record.endpoint,
                reached=reached,
                billed=None if reached else False,
            ) from exc
        self.record.http_status = response.status_code
        return response

    def parse_json(self, response: requests.Response) -> dict:
        """The answer as a JSON object, or VendorResponseError."""
        try:
            body = response.json()
            summary = redact(body)
        except (ValueError, RecursionError):  # not JSON, or nested deeper than any vendor answer
            body = None
        if not isinstance(body, dict):
            content_type = response.headers.get("Content-Type", "?")
            raise VendorResponseError(
                f"HTTP {response.status_code} with a non-JSON body ({content_type})",
                vendor=self.record.vendor,
                endpoint=self.record.endpoint,
                http_status=response.status_code,
            )
        self.record.response_summary = summary
        return body


def _is_outage(exc, http_status) -> bool:
    """What opens the breaker: no answer, an answer outside the protocol, a
    5xx. A documented vendor error code means the vendor is working."""
    return isinstance(exc, (VendorConnectionError, VendorResponseError)) or (http_status or 0) >= 500


def _may_have_reached(exc: requests.RequestException) -> bool:
    """False only when the request certainly never left: the connection was
    not established. A read timeout or reset may follow a received request."""
    if isinstance(exc, requests.ConnectTimeout):
        return False
    if isinstance(exc, requests.ConnectionError):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        return not isinstance(reason, urllib3.exceptions.NewConnectionError)
    return True
