"""The demo integrator: a product team's app, emulated, under /sandbox/integrator/.

It is what a team integrating the portal builds, in its smallest honest form:

- a web page (GET /) that asks its own backend for a verification session,
  then embeds the portal in an iframe or sends the browser to it, and lists
  the portal's postMessage events, believing only those from the portal's
  origin;
- a backend (POST sessions, GET sessions/<id>) that calls the portal's public
  API over real HTTP with the team's API key, as any server would;
- a return page (GET return) where redirect mode lands: it trusts nothing in
  its URL but the session id and asks the API for the outcome;
- a webhook receiver (POST webhooks) that checks Standard Webhooks signatures
  with code of its own, keeps every delivery, and lists them (webhooks.json);
  `webhooks/fail-next` makes it answer 503 for a while, to watch retries.

The pages are served on another origin than the portal (127.0.0.1 and
localhost swapped, see integrator_account.integrator_origin): two different sites
to the browser, so framing, postMessage origins, cookies and the referrer
behave as they will for a real integrator. The webhook receiver and the JSON
endpoints answer on any origin: the portal posts webhooks to SITE_URL.

Like the vendor emulators it imports nothing from verification/: it knows the
portal only through its documented API (README "Integrating (API)" and
"Webhooks"), so a mistake shared with the portal's own code would show. Its
API key and webhook secret come from the portal's commands, kept in the
sandbox's own table (integrator_account.py).
"""

import base64
import hashlib
import hmac
import logging
import re
import secrets
import time
from functools import wraps
from uuid import UUID

import requests
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from .integrator_account import integrator_origin
from .models import IntegratorAccount, ReceivedWebhook, WebhookOutage
from .protocol import json_object, origin

logger = logging.getLogger(__name__)

# The portal's methods (README table), with what the demo sends for each.
METHODS = (
    ("h5", "Jumdata H5 liveness"),
    ("tencent_lip", "Tencent lip-code video"),
    ("tencent_idcard", "Tencent lip-code video + ID check"),
    ("juhe_video", "Juhe video liveness (4 digits read aloud)"),
    ("juhe_video_auth", "Juhe video liveness + ID check"),
    ("tencent_photo", "Tencent selfie photo"),
)
METHOD_NAMES = tuple(name for name, _label in METHODS)
MODES = ("iframe", "redirect")
# The portal's page languages (README: `locale`, zh-hans by default).
LOCALES = ("zh-hans", "en")
# The methods that need a name and ID number get the sandbox's passing
# identity (README "Steering outcomes"): a demo should be able to pass.
METHODS_WITH_IDENTITY = ("tencent_idcard", "juhe_video_auth")
PASSING_IDENTITY = {"realname": "张三", "idcard": "11010519491231002X"}
# Juhe's digits-read-aloud mode shows the most of the flow.
METHOD_OPTIONS = {"juhe_video": {"liveness_type": 1}}
# What the iframe must delegate for the portal to use the camera, when the
# portal's answer does not say.
DEFAULT_IFRAME_ALLOW = "camera; microphone"

# (connect, read) seconds, as a product team's server would set them.
API_TIMEOUT = (3, 15)

# Standard Webhooks: a timestamp further than this from our clock is refused,
# so a captured delivery cannot be replayed later.
WEBHOOK_TOLERANCE_SECONDS = 5 * 60
WEBHOOK_SECRET_PREFIX = "whsec_"
WEBHOOK_LIST_LENGTH = 50
MAX_FAIL_NEXT = 20


# --- origins ---------------------------------------------------------------------------


def portal_origin():
    return origin(settings.SITE_URL)


def own_origin():
    return integrator_origin(settings.SITE_URL)


def request_origin(request):
    return request.build_absolute_uri("/").rstrip("/")


def integrator_page(view):
    """A page of the integrator's site: only served on its own origin (else
    302 to the same path there), never cached."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        origin = own_origin()
        if request_origin(request) != origin:
            return HttpResponseRedirect(origin + request.get_full_path())
        response = view(request, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        # The browser's default, which most product sites keep (else the
        # portal's stricter "same-origin" is added): the framed portal sees
        # our origin as its referrer, as it would on a real site.
        response["Referrer-Policy"] = "strict-origin-when-cross-origin"
        return response

    return wrapper


def backend_endpoint(*, methods):
    """A JSON endpoint of the integrator's backend (or its webhook list).

    CSRF-exempt: the demo's own page calls it with fetch, and it holds
    nothing worth forging a request for; a real backend would protect it
    with its own login and CSRF scheme.
    """

    def decorate(view):
        @csrf_exempt
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method not in methods:
                response = error_json(405, "method_not_allowed", f"use {' or '.join(methods)}")
                response["Allow"] = ", ".join(methods)
            else:
                response = view(request, *args, **kwargs)
            response["Cache-Control"] = "no-store"
            return response

        return wrapper

    return decorate


def error_json(status, code, message, fields=None):
    error = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return JsonResponse({"error": error}, status=status)


# --- the portal's API, over HTTP ---------------------------------------------------------


class PortalApiFailure(Exception):
    """The portal's API could not be reached or gave no usable JSON answer."""


def call_portal_api(method, path, *, payload=None):
    """(HTTP status, JSON object) of one call to the portal's public API."""
    account = IntegratorAccount.current()
    if account is None:
        raise PortalApiFailure(
            "the sandbox holds no API key for the demo yet: run `python manage.py migrate`"
        )
    try:
        response = requests.request(
            method,
            settings.SITE_URL + path,
            json=payload,
            headers={
                "Authorization": f"Bearer {account.api_key}",
                "Accept": "application/json",
            },
            timeout=API_TIMEOUT,
            # A redirect (to https, to a login page) is not the API answering.
            allow_redirects=False,
        )
    except requests.RequestException as error:
        logger.warning("integrator: portal API %s %s unreachable: %s", method, path, type(error).__name__)
        raise PortalApiFailure(f"the portal API could not be reached ({type(error).__name__})") from error
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        logger.warning(
            "integrator: portal API %s %s -> %s without a JSON object", method, path, response.status_code
        )
        raise PortalApiFailure(f"the portal API answered HTTP {response.status_code} without a JSON object")
    logger.info("integrator: portal API %s %s -> %s", method, path, response.status_code)
    return response.status_code, body


def session_request(method, locale=None):
    """The body our backend sends to POST /api/v1/sessions for a method."""
    body = {
        "method": method,
        # Our own reference for the check, as an order or account id would be.
        "external_ref": f"integrator-demo-{secrets.token_hex(4)}",
        # Always sent: redirect mode lands there; in iframe mode it is unused.
        "return_url": own_origin() + reverse("sandbox:integrator-return"),
    }
    if method in METHODS_WITH_IDENTITY:
        body.update(PASSING_IDENTITY)
    if method in METHOD_OPTIONS:
        body["options"] = METHOD_OPTIONS[method]
    if locale:
        body["locale"] = locale
    return body


# --- the integrator's web pages --------------------------------------------------------


@integrator_page
@require_GET
def page(request):
    config = {
        # The page believes postMessage events from this origin only.
        "portalOrigin": portal_origin(),
        "sessionsUrl": reverse("sandbox:integrator-sessions"),
        "webhooksUrl": reverse("sandbox:integrator-webhooks-json"),
        "failNextUrl": reverse("sandbox:integrator-fail-next"),
    }
    context = {
        "methods": METHODS,
        "modes": MODES,
        "locales": LOCALES,
        "config": config,
        "portal_origin": config["portalOrigin"],
        "own_origin": own_origin(),
        "webhook_url": settings.SITE_URL + reverse("sandbox:integrator-webhooks"),
        "max_fail_next": MAX_FAIL_NEXT,
    }
    # Rendered without the request on purpose: this page stands for another
    # site and must not pick up the portal's context processors. Its inline
    # script runs by the nonce of this answer's Content-Security-Policy.
    context["csp_nonce"] = request.csp_nonce
    response = HttpResponse(render_to_string("sandbox/integrator.html", context))
    # As on a site that sets no policy: the iframe's `allow` attribute alone
    # decides which frame gets the camera. The portal's default for its own
    # pages (camera=()) would deny it to every frame of this page.
    response["Permissions-Policy"] = "camera=*, microphone=*"
    # What a product team's own policy must allow to frame the portal: its
    # origin, the H5 vendor's (the frame goes on to its hosted page), and our
    # own (redirect mode may end the frame on our return page). django-csp's
    # per-answer addition, as its @csp_update decorator makes.
    response._csp_update = {
        "frame-src": ["'self'", portal_origin(), origin(settings.JUMDATA_BASE_URL)]
    }
    return response


@integrator_page
@require_GET
def return_page(request):
    """Where redirect mode lands, ?session_id=<uuid>. The URL says which
    session, never how it went: that comes from the API, server to server."""
    context = {"page_url": reverse("sandbox:integrator-page")}
    raw_id = request.GET.get("session_id", "")
    try:
        session_id = UUID(raw_id)
    except ValueError:
        context["problem"] = (
            "This page needs ?session_id=<the session's UUID>; it was missing or not a UUID."
            if raw_id
            else "This page needs ?session_id=<the session's UUID>; none was given."
        )
        return render_return(context, status=400)
    context["session_id"] = str(session_id)
    try:
        status, body = call_portal_api("GET", f"/api/v1/sessions/{session_id}")
    except PortalApiFailure as failure:
        context["problem"] = f"Could not fetch the outcome: {failure}."
        return render_return(context, status=502)
    if status != 200:
        error = body.get("error")
        message = error.get("message") if isinstance(error, dict) else None
        context["problem"] = f"The portal API answered HTTP {status}: {message or body}"
        return render_return(context, status=status if 400 <= status < 500 else 502)
    result = body.get("result") if isinstance(body.get("result"), dict) else {}
    context["outcome"] = {
        "status": body.get("status"),
        "review_status": body.get("review_status"),
        "passed": result.get("passed"),
        "reason": result.get("reason"),
    }
    return render_return(context, status=200)


def render_return(context, *, status):
    markup = render_to_string("sandbox/integrator_return.html", context)
    response = HttpResponse(markup, status=status)
    # In iframe mode the portal may end by sending its frame here; the frame's
    # only ancestor is then our own page, so our origin may frame this page.
    response["X-Frame-Options"] = "SAMEORIGIN"
    response._csp_replace = {"frame-ancestors": ["'self'"]}  # as django-csp's @csp_replace does
    return response


# --- the integrator's backend ------------------------------------------------------------


@backend_endpoint(methods=("POST",))
def sessions(request):
    """{method, mode[, locale]} from our page → a portal session {id, url, iframe_allow}."""
    try:
        wanted = json_object(request.body)
    except ValueError:
        return error_json(400, "malformed_json", 'send a JSON object {"method", "mode"}')
    fields = {}
    if wanted.get("method") not in METHOD_NAMES:
        fields["method"] = f"one of {', '.join(METHOD_NAMES)}"
    if wanted.get("mode") not in MODES:
        fields["mode"] = f"one of {', '.join(MODES)}"
    if wanted.get("locale") not in (None, *LOCALES):
        fields["locale"] = f"one of {', '.join(LOCALES)}, or left out"
    if fields:
        return error_json(400, "invalid_request", "some fields are not valid", fields)

    method, mode = wanted["method"], wanted["mode"]
    try:
        status, body = call_portal_api(
            "POST", "/api/v1/sessions", payload=session_request(method, wanted.get("locale"))
        )
    except PortalApiFailure as failure:
        return error_json(502, "portal_unreachable", str(failure))
    if status != 201:
        # The portal's own error, passed on as it came: our page shows it.
        return JsonResponse(body, status=status)
    if not (isinstance(body.get("id"), str) and isinstance(body.get("url"), str)):
        return error_json(502, "portal_unreachable", "the portal API answered 201 without id and url")
    logger.info("integrator: session %s created (%s, %s)", body["id"], method, mode)
    return JsonResponse(
        {
            "id": body["id"],
            "url": body["url"],
            "iframe_allow": body.get("iframe_allow") or DEFAULT_IFRAME_ALLOW,
        },
        status=201,
    )


@backend_endpoint(methods=("GET",))
def session_detail(request, session_id):
    """The portal's GET /api/v1/sessions/<id>, passed through to our page."""
    try:
        status, body = call_portal_api("GET", f"/api/v1/sessions/{session_id}")
    except PortalApiFailure as failure:
        return error_json(502, "portal_unreachable", str(failure))
    return JsonResponse(body, status=status)


# --- the webhook receiver ------------------------------------------------------------------


def webhook_problem(*, secret, msg_id, timestamp, signature, body, now):
    """Why a delivery is not authentic, or "" when it is (Standard Webhooks).

    `body` is the raw request body (bytes), exactly as received: the
    signature covers those bytes, not a re-serialisation of the JSON.
    """
    headers = (("webhook-id", msg_id), ("webhook-timestamp", timestamp), ("webhook-signature", signature))
    for header, value in headers:
        if not value:
            return f"missing {header} header"
    if not re.fullmatch(r"[0-9]{1,12}", timestamp):
        return "webhook-timestamp is not Unix seconds"
    # Whole seconds on both sides, as the header is.
    drift = int(timestamp) - int(now)
    if abs(drift) > WEBHOOK_TOLERANCE_SECONDS:
        return f"webhook-timestamp is {drift:+d} s from our clock (at most ±{WEBHOOK_TOLERANCE_SECONDS} s)"
    key = base64.b64decode(secret.removeprefix(WEBHOOK_SECRET_PREFIX))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
    # Space-separated "v1,<base64>" entries: two during a secret rotation,
    # and any one that matches is enough. Other versions are skipped.
    for entry in signature.split(" "):
        version, _comma, value = entry.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected):
            return ""
    return "no v1 signature matches"


def read_event(body):
    """The JSON object in a body, or None."""
    try:
        return json_object(body)
    except ValueError:
        return None


def event_fields(event):
    """What the webhook list shows, from an event of any (untrusted) shape."""
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    sequence = data.get("sequence")
    status = data.get("status") if event.get("type") != "session.reviewed" else data.get("review_status")
    return {
        "event_type": str(event.get("type") or "")[:64],
        "session_id": str(data.get("session_id") or "")[:64],
        "sequence": sequence if type(sequence) is int and abs(sequence) < 2**63 else None,
        "status": str(status or "")[:32],
    }


@csrf_exempt
@require_POST
def webhooks(request):
    """The portal's webhooks: 204 when authentic, 400 (short text) when not.

    Every delivery is stored first, so nothing the portal sends is lost,
    forged or not.
    """
    delivery = ReceivedWebhook(
        msg_id=request.headers.get("webhook-id", "")[:255],
        timestamp_header=request.headers.get("webhook-timestamp", "")[:64],
        signature_header=request.headers.get("webhook-signature", ""),
    )
    try:
        body = request.body
    except RequestDataTooBig:
        body = None
    if body is None:
        delivery.problem = f"body over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes"
        status = 413
    else:
        delivery.body = body.decode("utf-8", errors="replace")
        account = IntegratorAccount.current()
        if account is None:
            delivery.problem = "the sandbox holds no webhook secret for the demo yet: run manage.py migrate"
        else:
            delivery.problem = webhook_problem(
                secret=account.webhook_secret,
                msg_id=request.headers.get("webhook-id", ""),
                timestamp=request.headers.get("webhook-timestamp", ""),
                signature=request.headers.get("webhook-signature", ""),
                body=body,
                now=time.time(),
            )
        event = read_event(body)
        if event is not None:
            for name, value in event_fields(event).items():
                setattr(delivery, name, value)
        elif not delivery.problem:
            delivery.problem = "body is not a JSON object"
        # Without a secret nothing can be checked, through no fault of the
        # sender: 503 makes the portal try again later.
        status = 503 if account is None else 400 if delivery.problem else 204
    delivery.verified = status == 204
    if delivery.verified:
        # The README: the same webhook-id on every retry, "use it to drop
        # repeats". Only a delivery we accepted counts: a 503 was not handled,
        # and a forged one must not make the real one look like a repeat.
        # (A real receiver would make this race-proof with a unique key.)
        delivery.duplicate = ReceivedWebhook.objects.filter(
            msg_id=delivery.msg_id, verified=True, answered_status__lt=300
        ).exists()
    # Failing on purpose comes last so the delivery is still checked and shown.
    failing_on_purpose = WebhookOutage.take()
    if failing_on_purpose:
        status = 503
    delivery.answered_status = status
    delivery.save()
    logger.info(
        "integrator webhook: id=%s type=%s verified=%s duplicate=%s answered=%s problem=%s",
        delivery.msg_id,
        delivery.event_type,
        delivery.verified,
        delivery.duplicate,
        status,
        delivery.problem or "-",
    )
    if status == 204:
        return HttpResponse(status=204)
    text = "failing on purpose (fail-next)" if failing_on_purpose else delivery.problem
    return HttpResponse(text, status=status, content_type="text/plain")


@backend_endpoint(methods=("POST",))
def fail_next(request):
    """count=N: the next N deliveries answer 503, to watch the portal retry."""
    raw = request.POST.get("count", "")
    if not re.fullmatch(r"[0-9]{1,3}", raw) or int(raw) > MAX_FAIL_NEXT:
        return error_json(400, "invalid_request", f"count must be 0 to {MAX_FAIL_NEXT}", {"count": raw[:20]})
    WebhookOutage.fail_next(int(raw))
    logger.info("integrator webhook: the next %s deliveries will answer 503", raw)
    return JsonResponse({"fail_next": int(raw)})


@backend_endpoint(methods=("GET",))
def webhooks_json(request):
    """The latest deliveries, newest first (no signatures, no bodies)."""
    latest = ReceivedWebhook.objects.order_by("-received_at", "-id")[:WEBHOOK_LIST_LENGTH]
    return JsonResponse(
        {
            "fail_next": WebhookOutage.pending(),
            "webhooks": [
                {
                    "msg_id": row.msg_id,
                    "type": row.event_type,
                    "session_id": row.session_id,
                    "sequence": row.sequence,
                    "status": row.status,
                    "verified": row.verified,
                    "problem": row.problem,
                    "duplicate": row.duplicate,
                    "answered_status": row.answered_status,
                    "received_at": row.received_at.isoformat(),
                }
                for row in latest
            ],
        }
    )
