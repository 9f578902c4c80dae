"""The integration API: JSON in, JSON out, errors always as
`{"error": {"code", "message", "fields"?}}` — never an HTML page."""

import json
import logging
import uuid
from functools import wraps

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from ..domain.errors import InvalidInput
from ..models import ApiClient, KeyRefused, VerificationSession
from ..platform import limits
from ..services.sessions import session_create
from . import embedding

logger = logging.getLogger(__name__)


def api_error(status: int, code: str, message: str, fields: dict | None = None) -> JsonResponse:
    error = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return JsonResponse({"error": error}, status=status)


def api_view(*, methods: tuple[str, ...]):
    """Bearer-key authentication and method check; hands the view its client."""

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
            response = view(request, client, *args, **kwargs)
            response["Cache-Control"] = "no-store"
            return response

        return wrapper

    return decorate


@api_view(methods=("POST",))
def sessions(request, client):
    wait = limits.retry_after("api_sessions", str(client.pk), limits.Rate.parse(settings.KYC_RATE_API_SESSIONS))
    if wait:
        response = api_error(429, "rate_limited", f"more sessions than {settings.KYC_RATE_API_SESSIONS} (count/seconds) for this API key; retry after {wait} s")
        response["Retry-After"] = str(wait)
        return response
    if request.content_type != "application/json":
        return api_error(415, "unsupported_media_type", "send the body as application/json")
    try:
        payload = json.loads(request.body)
    except RequestDataTooBig:
        return api_error(413, "payload_too_large", f"the body is over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes")
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


@api_view(methods=("GET",))
def session_detail(request, client, session_id):
    try:
        session = VerificationSession.objects.filter(pk=uuid.UUID(session_id), client=client).first()
    except ValueError:
        session = None
    if session is None:
        return api_error(404, "not_found", "no session with this id for this API key")
    return JsonResponse(
        {
            "id": str(session.id),
            "external_ref": session.external_ref,
            "method": session.method or None,
            "method_requested": session.method_requested or session.method,
            "methods_tried": session.route_taken,
            "status": session.status,
            "review_status": session.review_status,
            "result": {
                "passed": session.passed,
                "reason": session.reason,
                "vendor_code": session.vendor_code,
                "scores": session.scores,
            },
            "created_at": session.created_at.isoformat(),
            "completed_at": session.completed_at.isoformat() if session.completed_at else None,
        }
    )
