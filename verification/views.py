"""End-user pages, the demo landing page and the health check.

The end-user steps are authorised by the unguessable link token in the path
alone: no cookie is needed, so the flow works inside third-party iframes.
For the same reason their POSTs are exempt from Django's cookie-based CSRF
check: a forged request would have to know the token, which is the secret.
"""

import logging
from functools import wraps

import segno

from django.conf import settings
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.http import Http404, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import embedding, handoffs, limits, services
from .api import api_error
from .models import Method, VerificationSession

logger = logging.getLogger(__name__)

# Named in the consent text: the person is told who receives their face.
VENDOR_NAMES = {
    Method.H5: "聚美智数 Jumdata",
    Method.TENCENT_LIP: "腾讯云 Tencent Cloud",
    Method.TENCENT_IDCARD: "腾讯云 Tencent Cloud",
    Method.TENCENT_PHOTO: "腾讯云 Tencent Cloud",
    Method.JUHE_VIDEO: "聚合数据 Juhe",
    Method.JUHE_VIDEO_AUTH: "聚合数据 Juhe",
}


def end_user_step(view=None, *, json_errors=False):
    """Counts the request against the address's rate limit, resolves the
    link token (404 if unknown), speaks the session's language, turns a
    refused step into a page, or for the JSON steps into
    `{"error": {"code", "message"}}`, that explains it, and lets the
    session's client frame the answer (see embedding.py)."""

    def decorate(view):
        @never_cache
        @wraps(view)
        def wrapper(request, token, *args, **kwargs):
            wait = public_rate_wait(request)
            # The client comes along: every answer needs its origins (embedding.py).
            session = VerificationSession.objects.select_related("client").filter(link_token=token).first()
            if session is None:
                if wait:
                    return too_many_requests(request, wait, json_errors=json_errors)
                title, message = _("Link not found"), _("This verification link is not valid. Check the link you were given.")
                if json_errors:
                    return end_user_error(404, "not_found", message)
                return message_page(request, title, message, status=404)
            with translation.override(session.locale):
                try:
                    if wait:
                        raise services.StepRefused(rate_limited_message(wait), http_status=429, code="rate_limited")
                    response = view(request, session, *args, **kwargs)
                except services.StepRefused as refused:
                    if json_errors:
                        response = end_user_error(refused.http_status, refused.code, refused.message)
                    else:
                        response = message_page(request, _("This step is not possible"), refused.message,
                                                status=refused.http_status, session=session, code=refused.code)
                if wait:
                    response["Retry-After"] = str(wait)
            return embedding.apply_frame_policy(response, session)

        return csrf_exempt(wrapper)

    return decorate(view) if view else decorate


def public_rate_wait(request) -> int:
    """Seconds this address must wait, or 0: writes (consent, start, uploads,
    hand-off) and reads (pages, status polls) have limits of their own."""
    setting = settings.KYC_RATE_PUBLIC_WRITES if request.method == "POST" else settings.KYC_RATE_PUBLIC_READS
    return limits.retry_after(f"public_{request.method.lower()}", limits.client_ip(request), limits.Rate.parse(setting))


def rate_limited_message(wait: int):
    return _("Too many requests from your network. Please wait %(seconds)d seconds and try again.") % {"seconds": wait}


def too_many_requests(request, wait: int, *, json_errors: bool):
    if json_errors:
        response = end_user_error(429, "rate_limited", rate_limited_message(wait))
    else:
        response = message_page(request, _("Please wait a moment"), rate_limited_message(wait), status=429)
    response["Retry-After"] = str(wait)
    return response


def end_user_error(status: int, code: str, message) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": str(message)}}, status=status)


UPLOAD_FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the small fields


class SizeLimitedUploadHandler(TemporaryFileUploadHandler):
    """Writes uploads straight to a temporary file and stops reading the
    request once more than `limit` bytes have arrived."""

    def __init__(self, request, *, limit: int):
        super().__init__(request)
        self.limit = limit
        self.received = 0
        self.exceeded = False

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.exceeded = True
            self.file.close()  # a NamedTemporaryFile: closing deletes it
            raise StopUpload(connection_reset=True)
        return super().receive_data_chunk(raw_data, start)


def message_page(request, title, message, *, status, session=None, code="error"):
    context = {"title": title, "message": message, "session": session}
    if session is not None:
        context["embed"] = embedding.parent_config(session, events=[embedding.error_event(code)])
    return render(request, "verification/message.html", context, status=status)


@require_GET
@end_user_step
def entry(request, session):
    if session.is_link_expired:
        # Shown as expired whatever is stored: a GET writes nothing (the sweep records it).
        return message_page(
            request, _("Link expired"), _("This verification link has expired. Ask for a new one."),
            status=410, session=session, code="link_expired",
        )
    return render(
        request,
        "verification/entry.html",
        {
            "session": session,
            "embed": embedding.parent_config(session, events=embedding.page_events(session, after=request.GET.get("after", ""))),
            "user_status": services.session_user_status(session),
            "can_continue": session.status in ("in_progress", "processing") and session.has_live_vendor_token(),
            "vendor": VENDOR_NAMES[session.method],
            "consent_version": settings.KYC_CONSENT_VERSION,
            "recorded": session.method in services.VIDEO_METHODS + services.PHOTO_METHODS,
            "recording_seconds": settings.KYC_RECORDING_SECONDS,
            "max_upload_bytes": settings.KYC_UPLOAD_MAX_BYTES,
        },
    )


@require_POST
@end_user_step
def consent(request, session):
    services.session_give_consent(
        session=session,
        ip=limits.client_ip(request) or None,
        user_agent=request.headers.get("User-Agent", ""),
    )
    return redirect_to_entry(session, after="consent")


@require_POST
@end_user_step
def h5_start(request, session):
    vendor_url = services.session_start_h5(
        session=session, return_url=h5_return_url(session), ip=limits.client_ip(request)
    )
    return redirect(vendor_url or reverse("verification:entry", args=[session.link_token]))


@require_GET
@end_user_step
def h5_return(request, session):
    if not session.vendor_token:
        raise services.StepRefused(_("This verification has not been started yet."), http_status=409)
    services.session_h5_returned(session=session)
    return redirect_to_entry(session, after="h5_return")


def redirect_to_entry(session, *, after: str):
    """Back to the entry page, saying which step just ended, so the page can
    tell an embedding app (`consent_given`, `submitted`)."""
    return redirect(reverse("verification:entry", args=[session.link_token]) + f"?after={after}")


@require_GET
@end_user_step(json_errors=True)
def status(request, session):
    current = services.session_user_status(session)
    return JsonResponse(
        {
            "status": current.status,
            "message": current.message,
            "retry_allowed": current.retry_allowed,
            "opened_elsewhere": handoffs.session_opened_elsewhere(session),
        }
    )


@require_POST
@end_user_step(json_errors=True)
def hand_off(request, session):
    """The short link and QR code that continue this session on a phone."""
    handoff = handoffs.session_hand_off(session=session)
    url = settings.SITE_URL + reverse("verification:handoff_open", args=[handoff.code])
    return JsonResponse(
        {
            "url": url,
            "qr_code": segno.make(url, error="m").svg_data_uri(scale=5, border=2),
            "expires_at": handoff.expires_at.isoformat(),
        },
        status=201,
    )


@never_cache
@require_GET
def handoff_open(request, code):
    """Where the QR code leads: on to the session's own page, marked as the
    second device so it does not follow the integrator's redirect."""
    wait = limits.retry_after("handoff_open", limits.client_ip(request), limits.Rate.parse(settings.KYC_RATE_HANDOFF_OPENS))
    if wait:
        return too_many_requests(request, wait, json_errors=False)
    try:
        session = handoffs.handoff_open(code=code)
    except handoffs.HandoffNotFound:
        return message_page(request, _("Link not found"), _("This link is not valid. Check the link you were given."), status=404)
    except services.StepRefused as refused:
        return message_page(request, _("Link expired"), refused.message, status=refused.http_status)
    return redirect(reverse("verification:entry", args=[session.link_token]) + "?via=handoff")


@require_http_methods(["GET", "POST"])
@end_user_step(json_errors=True)
def challenge(request, session):
    """GET: the live challenge, if any (read only). POST: issues one, starting
    the attempt (and, for lip codes, asking the vendor) when none is under way."""
    if request.method == "POST":
        issued = services.session_issue_challenge(session=session, ip=limits.client_ip(request))
    else:
        issued = services.session_current_challenge(session=session)
    return JsonResponse({"kind": issued.kind, "value": issued.value})


@require_POST
@end_user_step(json_errors=True)
def video(request, session):
    return _receive_upload(request, session, kind="video")


@require_POST
@end_user_step(json_errors=True)
def photo(request, session):
    return _receive_upload(request, session, kind="photo")


def _receive_upload(request, session, *, kind: str):
    """Streams the one file to a temporary file on disk, refusing it as soon
    as it passes the size limit, then hands it to the service."""
    limit = settings.KYC_UPLOAD_MAX_BYTES
    too_large = end_user_error(
        413, "too_large", _("The file is too large (at most %(mb)d MB). Record for about 6 seconds.") % {"mb": limit // 2**20}
    )
    if int(request.META.get("CONTENT_LENGTH") or 0) > limit + UPLOAD_FORM_OVERHEAD:
        return too_large
    handler = SizeLimitedUploadHandler(request, limit=limit)
    request.upload_handlers = [handler]
    try:
        files = request.FILES.getlist(kind)
        capture = request.POST.get("capture", "")
    except MultiPartParserError:
        return end_user_error(400, "bad_upload", _("The upload was not understood. Please try again."))
    if handler.exceeded:
        return too_large
    if len(request.FILES) != 1 or len(files) != 1:
        return end_user_error(400, "one_file", _("Send exactly one file, in the field %(field)s.") % {"field": kind})
    if files[0].size == 0:
        return end_user_error(400, "empty", _("The file is empty. Please record again."))
    services.session_submit_media(session=session, kind=kind, upload=files[0], capture=capture)
    return JsonResponse({"status_url": reverse("verification:status", args=[session.link_token])}, status=202)


def h5_return_url(session) -> str:
    return settings.SITE_URL + reverse("verification:h5_return", args=[session.link_token])


# --- demo and operations -----------------------------------------------------


def demo_enabled() -> bool:
    return settings.SANDBOX_MODE or settings.DEBUG


@require_GET
def landing(request):
    if not demo_enabled():
        raise Http404
    return render(
        request,
        "verification/landing.html",
        {
            "methods": [(m, m in services.AVAILABLE_METHODS) for m in Method],
            "vendor_mode": settings.KYC_VENDOR_MODE,
            # The sandbox's demo integrator (kyc_portal/urls.py mounts it in
            # sandbox mode); its page sends the browser on to its own origin.
            "integrator_url": "/sandbox/integrator/" if settings.SANDBOX_MODE else "",
        },
    )


# The sandbox's documented passing identity; demo sessions never reach a real vendor.
DEMO_IDENTITY = {"realname": "张三", "idcard": "11010519491231002X"}
DEMO_OPTIONS = {Method.JUHE_VIDEO: {"liveness_type": 1}}


@require_POST
def demo_start(request):
    """One click from the landing page to a fresh session of one method."""
    if not demo_enabled():
        raise Http404
    method = request.POST.get("method", "")
    identity = DEMO_IDENTITY if method in services.METHODS_NEEDING_IDENTITY else {}
    try:
        session = services.session_create(
            client=None,
            method=method,
            external_ref="demo",
            options=DEMO_OPTIONS.get(method, {}),
            locale=translation.get_language() or "",
            **identity,
        )
    except services.InvalidInput as invalid:
        return message_page(request, _("Cannot start the demo"), str(invalid), status=400)
    return redirect("verification:entry", token=session.link_token)


def not_found(request, exception=None):
    """The site's 404: JSON under /api/, the portal's own page elsewhere."""
    if request.path.startswith("/api/"):
        return api_error(404, "not_found", "no such endpoint")
    return message_page(request, _("Page not found"), _("This page does not exist."), status=404)


def server_error(request):
    if request.path.startswith("/api/"):
        return api_error(500, "server_error", "something went wrong on our side; it has been logged")
    return render(request, "500.html", status=500)
