"""The one way vendor HTTP goes: `vendor_call`, a context manager around
one request with a required timeout, the circuit breaker, and a record of
the call (redacted) handed to whoever asked for it: services write it as a
VendorCall row. Vendor clients use nothing else to reach a vendor."""

import functools
import logging
import os
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Callable

import requests
import urllib3

from .base import (
    CircuitOpen,
    VendorConnectionError,
    VendorError,
    VendorResponseError,
    redact,
    redact_urls,
)
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


@dataclass
class VendorCallRecord:
    """What one call leaves behind; the vendor module fills in the vendor's
    own fields once it has read the answer. Summaries are redacted."""

    vendor: str
    endpoint: str
    request_summary: dict = field(default_factory=dict)
    http_status: int | None = None
    vendor_code: str = ""
    billed: bool | None = False
    request_id: str = ""
    response_summary: dict = field(default_factory=dict)
    error: str = ""
    latency_ms: int = 0

    def log(self) -> None:
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


# Takes each call's record once the call is over (services: a VendorCall row).
Recorder = Callable[[VendorCallRecord], None]


class vendor_call:
    """Context manager around one vendor call: `send` makes the HTTP request
    (with a required timeout); on exit, whether the block finished or
    raised, the call is logged and its record handed to `recorder`."""

    def __init__(self, *, vendor: str, endpoint: str, recorder: Recorder | None, request_summary: dict):
        self.record = VendorCallRecord(vendor=vendor, endpoint=endpoint, request_summary=redact(request_summary))
        self._recorder = recorder
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
        self.record.log()
        if self._recorder is not None:
            self._recorder(self.record)
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
