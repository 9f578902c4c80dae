"""What every end-user step shares. The steps are authorised by the
unguessable link token in the path alone: no cookie is needed, so the flow
works inside third-party iframes. For the same reason their POSTs are
exempt from Django's cookie-based CSRF check: a forged request would have
to know the token, which is the secret.

Services refuse a step with a typed error; this module alone decides the
HTTP status each one is (`REFUSAL_STATUS`)."""

from functools import wraps

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from ..domain import errors
from ..models import VerificationSession
from ..platform import limits
from . import embedding

# Most specific first: NotMedia is a FileRefused.
REFUSAL_STATUS = (
    (errors.NotMedia, 415),
    (errors.FileRefused, 400),
    (errors.WrongStep, 400),
    (errors.ConsentMissing, 403),
    (errors.NotNow, 409),
    (errors.LinkExpired, 410),
    (errors.LimitReached, 429),
    (errors.VendorDown, 503),
    (errors.StorageDown, 503),
    (errors.DatabaseDown, 503),
)


def refusal_status(refused: errors.StepRefused) -> int:
    return next(status for kind, status in REFUSAL_STATUS if isinstance(refused, kind))


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
                title = _("Link not found")
                message = _("This verification link is not valid. Check the link you were given.")
                if json_errors:
                    return end_user_error(404, "not_found", message)
                return message_page(request, title, message, status=404)
            with translation.override(session_language(request, session)):
                try:
                    if wait:
                        raise errors.LimitReached(rate_limited_message(wait), code="rate_limited")
                    response = view(request, session, *args, **kwargs)
                except errors.StepRefused as refused:
                    status = refusal_status(refused)
                    if json_errors:
                        response = end_user_error(status, refused.code, refused.message)
                    else:
                        response = message_page(request, _("This step is not possible"), refused.message,
                                                status=status, session=session, code=refused.code)
                if wait:
                    response["Retry-After"] = str(wait)
            return embedding.apply_frame_policy(response, session)

        return csrf_exempt(wrapper)

    return decorate(view) if view else decorate


def session_language(request, session) -> str:
    """The language of a session's pages: the one stored (the integrator's
    `locale`, or the person's own choice on the page), else the browser's
    (Accept-Language: zh-hans or en, zh-hans when neither fits)."""
    return session.locale or translation.get_language_from_request(request)


def who_is_asking(session) -> dict:
    """The company behind a session, as its pages name it: its name, logo,
    privacy policy and support contact (the API client's, where set)."""
    client = session.client if session is not None else None
    if client is None:
        return {}
    return {
        "name": client.shown_name,
        "logo_url": client.logo_url,
        "privacy_url": client.privacy_url,
        "support": client.support_url,
        "support_href": client.support_href,
    }


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


# Refusals after which the session's own page would only say the same again:
# their page offers no way back to it (an expired link never links to itself).
NO_WAY_BACK = {"link_expired"}


def message_page(request, title, message, *, status, session=None, code="error"):
    context = {"title": title, "message": message, "session": session, "asking": who_is_asking(session),
               "back": session is not None and code not in NO_WAY_BACK}
    if session is not None:
        context["embed"] = embedding.parent_config(session, events=[embedding.error_event(code)])
    return render(request, "verification/message.html", context, status=status)
