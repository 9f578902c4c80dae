"""How long a staff member stays signed in. Idle sign-ins end by Django's
own means: the session lives SESSION_COOKIE_AGE (ADMIN_SESSION_IDLE_MINUTES)
and SESSION_SAVE_EVERY_REQUEST moves that end with each request. This module
adds the other end: ADMIN_SESSION_MAX_HOURS after signing in, however busy,
the sign-in is over, so a session stolen from a browser left open serves
no longer than a working day.

Only staff have sessions: end-user pages carry no session cookie, and a
request without one is let through untouched (no session is read, so no
`Vary: Cookie` and no cookie is added to those answers)."""

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

SIGNED_IN_AT = "kyc_signed_in_at"


@receiver(user_logged_in, dispatch_uid="verification.admin_sessions.stamp_sign_in")
def stamp_sign_in(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        request.session[SIGNED_IN_AT] = timezone.now().timestamp()


def sign_in_expired(session) -> bool:
    """Whether a signed-in session began more than ADMIN_SESSION_MAX_HOURS
    ago. One without a sign-in time (made before this rule) has expired."""
    signed_in_at = session.get(SIGNED_IN_AT)
    if not isinstance(signed_in_at, (int, float)):
        return True
    age = timezone.now().timestamp() - signed_in_at
    return age >= timedelta(hours=settings.ADMIN_SESSION_MAX_HOURS).total_seconds()


class SignInLifetimeMiddleware:
    """Signs the user out, and says why, once their sign-in is too old; the
    admin then answers with its login page as for anyone signed out."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.session.session_key and request.user.is_authenticated and sign_in_expired(request.session):
            user_id = request.user.pk
            logout(request)
            logger.info("sign-in of user %s ended after %s hours", user_id, settings.ADMIN_SESSION_MAX_HOURS)
            messages.info(request, _(
                "You were signed out: a sign-in lasts at most %(hours)d hours. Sign in again to continue."
            ) % {"hours": settings.ADMIN_SESSION_MAX_HOURS})
        return self.get_response(request)
