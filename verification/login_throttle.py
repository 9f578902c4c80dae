"""Admin login throttling: failed attempts are counted per account and per
IP address in the database (shared by every web process), and a login is
refused, before any password is checked, once either has too many."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _

from .limits import client_ip
from .models import LoginFailure


def refusal(request) -> str:
    """Why this login attempt is refused now, or "" to let it through."""
    since = timezone.now() - timedelta(minutes=settings.ADMIN_LOGIN_WINDOW_MINUTES)
    recent = LoginFailure.objects.filter(at__gte=since)
    username = request.POST.get("username", "").strip().lower()
    if username and recent.filter(username=username).count() >= settings.ADMIN_LOGIN_MAX_FAILURES_PER_ACCOUNT:
        return _("Too many failed logins for this account. Try again in %(minutes)d minutes.") % {
            "minutes": settings.ADMIN_LOGIN_WINDOW_MINUTES}
    if recent.filter(ip=client_ip(request)).count() >= settings.ADMIN_LOGIN_MAX_FAILURES_PER_IP:
        return _("Too many failed logins from this address. Try again in %(minutes)d minutes.") % {
            "minutes": settings.ADMIN_LOGIN_WINDOW_MINUTES}
    return ""


@receiver(user_login_failed)
def count_failure(sender, credentials, request=None, **kwargs):
    if request is None:
        return
    LoginFailure.objects.create(username=str(credentials.get("username", ""))[:150].strip().lower(), ip=client_ip(request) or None)
