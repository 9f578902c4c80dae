"""Admin login throttling: failed attempts are counted in the database
(shared by every web process), and a login is refused, before any password
is checked, once one account has failed too often from this address, or
this address has failed too often across all accounts.

An account is locked per address, not everywhere: counting its failures
from every address would let anyone lock a colleague out by typing their
user name with wrong passwords from somewhere else."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import LoginFailure
from ..platform.limits import client_ip


def refusal(request) -> str:
    """Why this login attempt is refused now, or "" to let it through."""
    since = timezone.now() - timedelta(minutes=settings.ADMIN_LOGIN_WINDOW_MINUTES)
    from_here = LoginFailure.objects.filter(at__gte=since, ip=client_ip(request) or None)
    username = _username(request.POST.get("username", ""))
    if username and from_here.filter(username=username).count() >= settings.ADMIN_LOGIN_MAX_FAILURES_PER_ACCOUNT:
        return _("Too many failed logins for this account from your address. Try again in %(minutes)d minutes.") % {
            "minutes": settings.ADMIN_LOGIN_WINDOW_MINUTES}
    if from_here.count() >= settings.ADMIN_LOGIN_MAX_FAILURES_PER_IP:
        return _("Too many failed logins from this address. Try again in %(minutes)d minutes.") % {
            "minutes": settings.ADMIN_LOGIN_WINDOW_MINUTES}
    return ""


@receiver(user_login_failed)
def count_failure(sender, credentials, request=None, **kwargs):
    if request is None:
        return
    username = _username(str(credentials.get("username", "")))
    LoginFailure.objects.create(username=username, ip=client_ip(request) or None)


def _username(typed: str) -> str:
    return typed[:150].strip().lower()
