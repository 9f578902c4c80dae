"""End-user pages, the demo landing page and the health check.

The end-user steps are authorised by the unguessable link token in the path
alone: no cookie is needed, so the flow works inside third-party iframes.
For the same reason their POSTs are exempt from Django's cookie-based CSRF
check: a forged request would have to know the token, which is the secret.
"""

import logging

from django.conf import settings
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from . import services
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


def end_user_step(view):
    """Resolves the link token (404 page if unknown), speaks the session's
    language, and turns a refused step into a page that explains it."""

    @never_cache
    def wrapper(request, token, *args, **kwargs):
        session = VerificationSession.objects.filter(link_token=token).first()
        if session is None:
            return message_page(
                request, _("Link not found"), _("This verification link is not valid. Check the link you were given."),
                status=404,
            )
        with translation.override(session.locale):
            try:
                return view(request, session, *args, **kwargs)
            except services.StepRefused as refused:
                if request.headers.get("Accept", "").startswith("application/json"):
                    return JsonResponse({"error": str(refused.message)}, status=refused.http_status)
                return message_page(request, _("This step is not possible"), refused.message,
                                    status=refused.http_status, session=session)

    wrapper.__name__ = view.__name__
    return csrf_exempt(wrapper)


def message_page(request, title, message, *, status, session=None):
    return render(
        request, "verification/message.html", {"title": title, "message": message, "session": session}, status=status
    )


@require_GET
@end_user_step
def entry(request, session):
    if session.is_link_expired:
        services.session_expire_link(session=session)
        return message_page(
            request, _("Link expired"), _("This verification link has expired. Ask for a new one."),
            status=410, session=session,
        )
    return render(
        request,
        "verification/entry.html",
        {
            "session": session,
            "user_status": services.session_user_status(session),
            "can_continue": session.status in ("in_progress", "processing") and session.has_live_vendor_token(),
            "vendor": VENDOR_NAMES[session.method],
            "consent_version": settings.KYC_CONSENT_VERSION,
        },
    )


@require_POST
@end_user_step
def consent(request, session):
    services.session_give_consent(
        session=session,
        ip=request.META.get("REMOTE_ADDR"),
        user_agent=request.headers.get("User-Agent", ""),
    )
    return redirect("verification:entry", token=session.link_token)


@require_POST
@end_user_step
def h5_start(request, session):
    vendor_url = services.session_start_h5(session=session, return_url=h5_return_url(session))
    return redirect(vendor_url or reverse("verification:entry", args=[session.link_token]))


@require_GET
@end_user_step
def h5_return(request, session):
    if not session.vendor_token:
        raise services.StepRefused(_("This verification has not been started yet."), http_status=409)
    services.session_collect_h5_result(session_id=session.pk, vendor_token=session.vendor_token)
    return redirect("verification:entry", token=session.link_token)


@require_GET
@end_user_step
def status(request, session):
    current = services.session_user_status(session)
    return JsonResponse(
        {"status": current.status, "message": current.message, "retry_allowed": current.retry_allowed}
    )


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
        {"methods": [(m, m in services.AVAILABLE_METHODS) for m in Method], "vendor_mode": settings.KYC_VENDOR_MODE},
    )


@require_POST
def demo_start(request):
    """One click from the landing page to a fresh session of one method."""
    if not demo_enabled():
        raise Http404
    try:
        session = services.session_create(
            client=None,
            method=request.POST.get("method", ""),
            external_ref="demo",
            options={},
            locale=translation.get_language() or "",
        )
    except services.InvalidInput as invalid:
        return message_page(request, _("Cannot start the demo"), str(invalid), status=400)
    return redirect("verification:entry", token=session.link_token)


@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


def not_found(request, exception=None):
    """The site's 404: JSON under /api/, the portal's own page elsewhere."""
    if request.path.startswith("/api/"):
        return api_error(404, "not_found", "no such endpoint")
    return message_page(request, _("Page not found"), _("This page does not exist."), status=404)


def server_error(request):
    if request.path.startswith("/api/"):
        return api_error(500, "server_error", "something went wrong on our side; it has been logged")
    return render(request, "500.html", status=500)
