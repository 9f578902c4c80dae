"""What every vendor client shares: the error hierarchy, the retry policy
(pure functions), code tables, and the redaction of what a call's record
keeps. The HTTP itself goes through `transport.vendor_call`."""

import re

from ..platform.idcard import mask_idcard, mask_name

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


def may_fall_over(error: VendorError, *, unavailable_codes=frozenset()) -> bool:
    """Whether the vendor is unavailable and certainly billed nothing, so a
    session may move to another vendor's method: the breaker was open, the
    request never left, an answer outside the protocol (a 5xx page) or one
    of the vendor's busy-or-down codes (`UNAVAILABLE_CODES`). An answer that
    may have been billed (a read timeout: `billed` None) never moves it."""
    if error.billed is not False or error.permanent:
        return False
    if isinstance(error, (VendorConnectionError, VendorResponseError)):
        return not error.reached or isinstance(error, VendorResponseError)
    return str(error.code) in {str(code) for code in unavailable_codes}


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
