"""The end-user pages and steps of a session (`/v/<token>/…`) and the
hand-off link (`/h/<code>`). Each view is thin: it asks one service and
renders or answers; `steps.end_user_step` resolves the token and turns a
refused step into an answer."""

import json

import segno
from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ..domain.errors import NotNow, StepRefused
from ..methods import method_of
from ..platform import limits
from ..domain.device import Device
from ..vendors.breaker import breaker_is_open
from ..services import handoffs, hosted, messages, recorded, routing, sessions
from . import embedding
from .steps import end_user_step, message_page, refusal_status, too_many_requests, who_is_asking
from .uploads import receive_upload


@require_GET
@end_user_step
def entry(request, session):
    if session.is_link_expired:
        # Shown as expired whatever is stored: a GET writes nothing (the sweep records it).
        return message_page(
            request, _("Link expired"), _("This verification link has expired. Ask for a new one."),
            status=410, session=session, code="link_expired",
        )
    # Continued on a phone before anything started: the phone is probed and may get another method.
    choose_again = request.GET.get("via") == "handoff" and routing.may_choose_again(session)
    method = method_of(session.method) if session.method and not choose_again else None
    return render(
        request,
        "verification/entry.html",
        {
            "session": session,
            "method": method,
            "choose_again": choose_again,
            "needs_speech": method.needs_speech(session) if method else False,
            "vendor": routing.consent_vendors(session),
            "vendors": routing.consent_vendor_names(session),
            "asking": who_is_asking(session),
            "media_days": settings.KYC_MEDIA_RETENTION_DAYS,
            "identity_days": settings.KYC_PII_RETENTION_DAYS,
            "embed": embedding.parent_config(session, events=embedding.page_events(session, after=request.GET.get("after", ""))),
            "user_status": messages.session_user_status(session),
            # A start lost mid-way (its database gone) is settled by the next start.
            "can_continue": session.status in ("in_progress", "processing") and (
                session.has_live_vendor_token() or bool(method and method.is_hosted and session.start_lost())),
            "consent_version": settings.KYC_CONSENT_VERSION,
            "recording_seconds": settings.KYC_RECORDING_SECONDS,
            "max_upload_bytes": settings.KYC_UPLOAD_MAX_BYTES,
            "outage_check_seconds": settings.KYC_OUTAGE_CHECK_SECONDS,
        },
    )


@require_POST
@end_user_step
def consent(request, session):
    sessions.session_give_consent(
        session=session,
        ip=limits.client_ip(request) or None,
        user_agent=request.headers.get("User-Agent", ""),
    )
    return redirect_to_entry(session, after="consent")


@require_POST
@end_user_step(json_errors=True)
def route(request, session):
    """An `auto` session's page reports what the device can do (JSON, see
    static/js/route.js); the portal chooses the method and the page reloads
    into it."""
    try:
        report = json.loads(request.body or b"null")
    except (ValueError, RecursionError):
        report = None
    device = Device.from_report(report, user_agent=request.headers.get("User-Agent", ""))
    handoff = isinstance(report, dict) and report.get("handoff") is True
    chosen = routing.session_route(session=session, device=device, handoff=handoff)
    return JsonResponse({"method": chosen})


@require_POST
@end_user_step
def decline(request, session):
    """The person says no: the session ends as `cancelled` (reason
    `declined`), the integrator is told by webhook, and the page that
    follows tells the embedding app (`cancelled`) and says where to go."""
    sessions.session_cancel(session=session, reason="declined")
    return redirect_to_entry(session, after="declined")


@require_POST
@end_user_step
def language(request, session):
    """The one-tap language switch on every page of a session: the person's
    choice is kept on the session (it outlasts the integrator's `locale`
    from then on), and they go back to the page they were on."""
    chosen = request.POST.get("language", "")
    if chosen in dict(settings.LANGUAGES):
        session.set_locale(chosen)
    back = request.POST.get("next", "")
    own_pages = reverse("verification:entry", args=[session.link_token])
    if not (back.startswith(own_pages) and url_has_allowed_host_and_scheme(back, allowed_hosts=None)):
        back = own_pages
    return redirect(back)


@require_POST
@end_user_step
def h5_start(request, session):
    vendor_url = hosted.session_start_hosted(
        session=session, return_url=h5_return_url(session), ip=limits.client_ip(request)
    )
    return redirect(vendor_url or reverse("verification:entry", args=[session.link_token]))


@require_GET
@end_user_step
def h5_return(request, session):
    if not session.vendor_token:
        raise NotNow(_("This verification has not been started yet."), code="not_started")
    hosted.session_returned(session=session)
    return redirect_to_entry(session, after="h5_return")


def h5_return_url(session) -> str:
    return settings.SITE_URL + reverse("verification:h5_return", args=[session.link_token])


def redirect_to_entry(session, *, after: str):
    """Back to the entry page, saying which step just ended, so the page can
    tell an embedding app (`consent_given`, `submitted`)."""
    return redirect(reverse("verification:entry", args=[session.link_token]) + f"?after={after}")


@require_GET
@end_user_step(json_errors=True)
def status(request, session):
    current = messages.session_user_status(session)
    return JsonResponse(
        {
            "status": current.status,
            "message": current.message,
            "retry_allowed": current.retry_allowed,
            "opened_elsewhere": handoffs.session_opened_elsewhere(session),
            "vendor_up": vendors_up(session),
        }
    )


def vendors_up(session) -> bool:
    """Whether every vendor of the session's method may be called now (no
    breaker open): what the outage line waits for (static/js/outage.js)."""
    if not session.method:  # an `auto` session choosing: routing itself passes over vendors that are down
        return True
    # Without a reachable cache there is no breaker (breaker_is_open): the poll answers all the same.
    return not any(breaker_is_open(vendor.VENDOR) for vendor in method_of(session.method).vendors_for(session))


@require_http_methods(["GET", "POST"])
@end_user_step(json_errors=True)
def challenge(request, session):
    """GET: the live challenge, if any (read only). POST: issues one, starting
    the attempt (and, for lip codes, asking the vendor) when none is under way."""
    if request.method == "POST":
        method, issued = recorded.session_issue_challenge(session=session, ip=limits.client_ip(request))
    else:
        method, issued = recorded.session_current_challenge(session=session)
    expires_at = session.challenge_expires_at
    return JsonResponse({
        "kind": issued.kind,
        "value": method.challenge_for_page(issued),
        "expires_at": expires_at.isoformat() if expires_at else None,
    })


@require_POST
@end_user_step(json_errors=True)
def video(request, session):
    return receive_upload(request, session, kind="video")


@require_POST
@end_user_step(json_errors=True)
def photo(request, session):
    return receive_upload(request, session, kind="photo")


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
    except StepRefused as refused:
        return message_page(request, _("Link expired"), refused.message, status=refusal_status(refused))
    return redirect(reverse("verification:entry", args=[session.link_token]) + "?via=handoff")
