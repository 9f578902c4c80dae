"""The integration API: JSON in, JSON out, errors always as
`{"error": {"code", "message", "fields"?}}` — never an HTML page.

Every operation is described in the OpenAPI document (`web.openapi`,
served at /api/v1/openapi.json); the tests check each answer against it."""

import base64
import binascii
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from functools import wraps

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db.models import Q
from django.http import JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from ..domain.errors import IdempotencyConflict, InvalidInput, NotNow
from ..models import ApiClient, KeyRefused, VerificationSession, WebhookMessage
from ..platform import limits
from ..services.idempotency import idempotency_claim, request_fingerprint
from ..services.sessions import session_cancel, session_create
from ..services.webhooks import EVENT_TYPES
from . import embedding

logger = logging.getLogger(__name__)

PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX = 20, 100
EVENTS_KEPT_DAYS = 30


def api_error(status: int, code: str, message: str, fields: dict | None = None) -> JsonResponse:
    error = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return JsonResponse({"error": error}, status=status)


def api_view(*, methods: tuple[str, ...], rates: dict[str, str] | None = None):
    """Bearer-key authentication, the method check and the client's rate
    limit (`rates`: the setting that limits a method; KYC_RATE_API for the
    others); hands the view its client. Every authenticated answer carries
    the RateLimit-* headers of the limit it was counted under."""

    def decorate(view):
        @csrf_exempt
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method not in methods:
                response = api_error(405, "method_not_allowed", f"use {' or '.join(methods)}")
                response["Allow"] = ", ".join(methods)
                return response
            scheme, _sep, key = request.headers.get("Authorization", "").partition(" ")
            try:
                client = ApiClient.authenticate(key.strip()) if scheme.lower() == "bearer" and key.strip() else None
            except KeyRefused as refused:
                logger.warning("api key refused client=%s code=%s", refused.client_id, refused.code)
                return api_error(401, refused.code, refused.message)
            if client is None:
                return api_error(401, "unauthorized", "send 'Authorization: Bearer <api key>' with a valid key")
            setting = (rates or {}).get(request.method, "KYC_RATE_API")
            usage = limits.take(setting.removeprefix("KYC_RATE_").lower(), str(client.pk),
                                limits.Rate.parse(getattr(settings, setting)))
            if usage.retry_after:
                response = api_error(
                    429, "rate_limited",
                    f"more requests than {usage.limit} in {limits.Rate.parse(getattr(settings, setting)).seconds} s "
                    f"for this API key; retry after {usage.retry_after} s")
            else:
                response = view(request, client, *args, **kwargs)
            for header, value in usage.headers().items():
                response[header] = value
            response["Cache-Control"] = "no-store"
            return response

        return wrapper

    return decorate


# --- the session resource -----------------------------------------------------------------


def session_resource(session: VerificationSession) -> dict:
    """A session as the API shows it (GET, list, cancel)."""
    return {
        "id": str(session.id),
        "external_ref": session.external_ref,
        # The method that runs (null until an `auto` session chose), what was asked, the route taken.
        "method": session.method or None,
        "method_requested": session.method_requested or session.method,
        "methods_tried": session.route_taken,
        "status": session.status,
        "review_status": session.review_status,
        # A reviewer's "ask to try again" raises the limit: attempts_left and retry_allowed show it.
        "attempts_used": session.attempts_used,
        "attempts_left": session.attempts_left,
        "retry_allowed": session.retry_allowed,
        "result": {
            "passed": session.passed,
            "reason": session.reason,
            # Whose answer decided the attempt and its code, the same way for every vendor (a pass
            # too: Tencent's and Juhe's "0"); null when no vendor answered (timeouts, cancelling).
            "vendor": session.outcome_vendor or None,
            "vendor_code": session.vendor_code or None,
            "scores": session.scores,
        },
        "created_at": session.created_at.isoformat(),
        "expires_at": session.expires_at.isoformat(),
        "completed_at": session.completed_at.isoformat() if session.completed_at else None,
    }


def _client_session(client, session_id: str) -> VerificationSession | None:
    try:
        return VerificationSession.objects.filter(pk=uuid.UUID(session_id), client=client).first()
    except ValueError:
        return None


def _session_not_found():
    return api_error(404, "not_found", "no session with this id for this API key")


# --- /api/v1/sessions ------------------------------------------------------------------------


@api_view(methods=("GET", "POST"), rates={"POST": "KYC_RATE_API_SESSIONS"})
def sessions(request, client):
    if request.method == "GET":
        return _list_sessions(request, client)
    return _create_session_once(request, client)


def _create_session_once(request, client):
    """Creation, with Stripe's rules when an Idempotency-Key comes with it."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return _create_session(request, client)
    try:
        fingerprint = request_fingerprint(method=request.method, path=request.path, body=request.body)
    except RequestDataTooBig:
        return _too_big()
    try:
        claim = idempotency_claim(client=client, key=key, fingerprint=fingerprint)
    except InvalidInput as invalid:
        return api_error(400, "invalid_request", "the Idempotency-Key header is not valid", invalid.fields)
    except IdempotencyConflict as conflict:
        return api_error(409, conflict.code, conflict.message)
    if claim.replay:
        response = JsonResponse(claim.row.body, status=claim.row.status)
        response["Idempotent-Replayed"] = "true"
        return response
    try:
        response = _create_session(request, client)
    except BaseException:
        claim.row.release()
        raise
    if response.status_code in REPLAYED_STATUSES:
        claim.row.record_answer(status=response.status_code, body=json.loads(response.content))
    else:
        claim.row.release()
    return response


# Answers a retry gets again: the request's own outcome, not a passing state of the server.
REPLAYED_STATUSES = (201, 400, 413, 415)


def _too_big():
    return api_error(413, "payload_too_large", f"the body is over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes")


def _create_session(request, client):
    if request.content_type != "application/json":
        return api_error(415, "unsupported_media_type", "send the body as application/json")
    try:
        payload = json.loads(request.body)
    except RequestDataTooBig:
        return _too_big()
    except (ValueError, UnicodeDecodeError):
        return api_error(400, "malformed_json", "the body is not valid JSON")
    except RecursionError:
        # Arrays or objects nested thousands deep: no session field is like that.
        return api_error(400, "malformed_json", "the body is nested too deeply")
    if not isinstance(payload, dict):
        return api_error(400, "malformed_json", "the body must be a JSON object")
    unknown = sorted(set(payload) - SESSION_FIELDS)
    if unknown:
        return api_error(400, "invalid_request", "unknown field(s)", {f: "unknown field" for f in unknown})
    try:
        # As sent: the service tells a wrong type (0, false, []) from a field left out.
        session = session_create(client=client, **{field: payload.get(field) for field in SESSION_FIELDS})
    except InvalidInput as invalid:
        return api_error(400, "invalid_request", "some fields are not valid", invalid.fields)
    return JsonResponse(
        {
            "id": str(session.id),
            "url": settings.SITE_URL + reverse("verification:entry", args=[session.link_token]),
            "status": session.status,
            "expires_at": session.expires_at.isoformat(),
            "iframe_allow": embedding.iframe_allow(session),
        },
        status=201,
    )


SESSION_FIELDS = {
    "method", "methods", "external_ref", "realname", "idcard", "reference_photo", "options", "return_url", "locale",
}


# --- lists: newest first, cursor pages ----------------------------------------------------


class Page:
    """A list's query parameters read and checked: `limit`, `cursor` and the
    list's own filters. Problems are collected as InvalidInput fields."""

    def __init__(self, request, *, filters: frozenset[str], key_type=str):
        self.params = request.GET
        self.key_type = key_type
        self.errors: dict[str, str] = {}
        unknown = sorted(set(self.params) - filters - {"limit", "cursor"})
        for name in unknown:
            self.errors[name] = "unknown query parameter"
        for name in self.params:
            if len(self.params.getlist(name)) > 1:
                self.errors[name] = "give it once"
        self.limit = self._limit()
        self.after = self._cursor()

    def _limit(self) -> int:
        text = self.params.get("limit")
        if text is None:
            return PAGE_SIZE_DEFAULT
        if not (text.isascii() and text.isdigit() and 1 <= int(text) <= PAGE_SIZE_MAX):
            self.errors["limit"] = f"a whole number from 1 to {PAGE_SIZE_MAX}"
            return PAGE_SIZE_DEFAULT
        return int(text)

    def _cursor(self):
        text = self.params.get("cursor")
        if text is None:
            return None
        try:
            created, pk = json.loads(base64.urlsafe_b64decode(text.encode("ascii") + b"=" * (-len(text) % 4)))
            created = datetime.fromisoformat(created)
            if created.tzinfo is None or not isinstance(pk, (str, int)) or isinstance(pk, bool):
                raise ValueError("not one of ours")
            return created, self.key_type(pk)
        except (ValueError, TypeError, AttributeError, binascii.Error, UnicodeError, RecursionError):
            self.errors["cursor"] = "not a cursor this list gave (use next_cursor as it came)"
            return None

    def text(self, name: str) -> str | None:
        value = self.params.get(name)
        if value is not None and (not value or not value.isprintable() or len(value) > 128):
            self.errors[name] = "1 to 128 printable characters"
            return None
        return value

    def choice(self, name: str, choices) -> str | None:
        value = self.params.get(name)
        if value is not None and value not in choices:
            self.errors[name] = f"one of {', '.join(choices)}"
            return None
        return value

    def moment(self, name: str) -> datetime | None:
        value = self.params.get(name)
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
            moment = moment.astimezone(UTC) if moment.tzinfo else None
        except (ValueError, OverflowError):
            moment = None
        if moment is None:
            self.errors[name] = "a date and time with its offset (RFC 3339), e.g. 2026-05-01T00:00:00Z"
            return None
        return moment

    def check(self) -> None:
        if self.errors:
            raise InvalidInput(self.errors)

    def answer(self, rows, key_of, show) -> JsonResponse:
        """Newest first by (`created_at`, id); one more row than asked tells whether more follow."""
        if self.after is not None:
            created, pk = self.after
            rows = rows.filter(Q(created_at__lt=created) | Q(created_at=created, pk__lt=pk))
        found = list(rows.order_by("-created_at", "-pk")[: self.limit + 1])
        more = len(found) > self.limit
        found = found[: self.limit]
        cursor = None
        if more:
            last = found[-1]
            raw = json.dumps([last.created_at.isoformat(), key_of(last)]).encode()
            cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        return JsonResponse({"data": [show(row) for row in found], "has_more": more, "next_cursor": cursor})


SESSION_FILTERS = frozenset({"external_ref", "status", "review_status", "created_after", "created_before"})


def _list_sessions(request, client):
    page = Page(request, filters=SESSION_FILTERS, key_type=lambda pk: str(uuid.UUID(pk)))
    rows = VerificationSession.objects.filter(client=client)
    external_ref = page.text("external_ref")
    status = page.choice("status", VerificationSession.Status.values)
    review_status = page.choice("review_status", VerificationSession.ReviewStatus.values)
    after, before = page.moment("created_after"), page.moment("created_before")
    try:
        page.check()
    except InvalidInput as invalid:
        return api_error(400, "invalid_request", "some query parameters are not valid", invalid.fields)
    if external_ref is not None:
        rows = rows.filter(external_ref=external_ref)
    if status is not None:
        rows = rows.filter(status=status)
    if review_status is not None:
        rows = rows.filter(review_status=review_status)
    if after is not None:
        rows = rows.filter(created_at__gte=after)
    if before is not None:
        rows = rows.filter(created_at__lt=before)
    return page.answer(rows, key_of=lambda session: str(session.pk), show=session_resource)


# --- one session ------------------------------------------------------------------------------


@api_view(methods=("GET",))
def session_detail(request, client, session_id):
    session = _client_session(client, session_id)
    if session is None:
        return _session_not_found()
    return JsonResponse(session_resource(session))


@api_view(methods=("POST",))
def session_cancel_view(request, client, session_id):
    """Ends a session that is not final, for good (`cancelled`, reason
    `cancelled_by_client`), and the integrator's webhook is told."""
    session = _client_session(client, session_id)
    if session is None:
        return _session_not_found()
    try:
        session_cancel(session=session, reason="cancelled_by_client")
    except NotNow as refused:
        return api_error(409, CANCEL_REFUSALS.get(refused.code, refused.code), CANCEL_MESSAGES[refused.code])
    return JsonResponse(session_resource(session))


CANCEL_REFUSALS = {"processing": "session_processing", "finished": "session_final", "changed": "session_changed"}
CANCEL_MESSAGES = {
    "processing": "the session's recording is being checked (its answer may be billed): wait for the outcome",
    "finished": "the session is final and cannot be cancelled",
    "changed": "the session changed a moment ago; read it again",
}


def _row_number(value) -> int:
    number = int(value)
    if not 0 < number < 2**63:
        raise ValueError("out of range")
    return number


# --- /api/v1/events -----------------------------------------------------------------------------


def event_resource(message: WebhookMessage) -> dict:
    return {
        "id": message.msg_id,
        "type": message.event_type,
        "created_at": message.created_at.isoformat(),
        "data": message.payload.get("data", {}),
        "delivery": {
            "state": message.state,
            "attempts": message.attempts,
            "delivered_at": message.delivered_at.isoformat() if message.delivered_at else None,
        },
    }


@api_view(methods=("GET",))
def events(request, client):
    """The client's webhook events of the last 30 days, newest first: what
    an integrator reads to catch up after an outage."""
    page = Page(request, filters=frozenset({"type"}), key_type=_row_number)
    event_type = page.choice("type", EVENT_TYPES)
    try:
        page.check()
    except InvalidInput as invalid:
        return api_error(400, "invalid_request", "some query parameters are not valid", invalid.fields)
    rows = WebhookMessage.objects.filter(client=client,
                                         created_at__gte=timezone.now() - timedelta(days=EVENTS_KEPT_DAYS))
    if event_type is not None:
        rows = rows.filter(event_type=event_type)
    return page.answer(rows, key_of=lambda message: message.pk, show=event_resource)
