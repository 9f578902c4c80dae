"""The demo landing page: one click to a fresh session of any method, or of
`auto` over all of them, in sandbox mode (or with DEBUG on) only."""

from django.conf import settings
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from ..domain.errors import InvalidInput
from ..methods import REGISTRY
from ..services.sessions import session_create
from .steps import message_page

# The sandbox's documented passing identity; demo sessions never reach a real vendor.
DEMO_IDENTITY = {"realname": "张三", "idcard": "11010519491231002X"}


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
            "methods": REGISTRY.values(),
            "vendor_mode": settings.KYC_VENDOR_MODE,
            "integrator_url": "/sandbox/integrator/" if settings.SANDBOX_MODE else "",
        },
    )


@require_POST
def demo_start(request):
    """One click from the landing page to a fresh session of one method."""
    if not demo_enabled():
        raise Http404
    if request.POST.get("method") == "auto":
        # Every method, in the registry's order, with the sandbox's identity
        # so that none is left out: the device and the vendors decide.
        session = session_create(client=None, method="auto", methods=list(REGISTRY), external_ref="demo",
                                 locale=translation.get_language() or "", **DEMO_IDENTITY)
        return redirect("verification:entry", token=session.link_token)
    method = REGISTRY.get(request.POST.get("method", ""))
    if method is None:
        return message_page(request, _("Cannot start the demo"), _("There is no such method."), status=400)
    try:
        session = session_create(
            client=None,
            method=method.name,
            external_ref="demo",
            options=method.demo_options,
            locale=translation.get_language() or "",
            # The identity when the method cannot go without one (faceid_lip
            # takes an identity or a reference photo: the demo has no photo).
            **(DEMO_IDENTITY if method.requirement_errors(realname="", idcard="", has_reference_photo=False) else {}),
        )
    except InvalidInput as invalid:
        return message_page(request, _("Cannot start the demo"), str(invalid), status=400)
    return redirect("verification:entry", token=session.link_token)
