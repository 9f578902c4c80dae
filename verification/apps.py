from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class KycAdminConfig(admin_apps.AdminConfig):
    """Django's admin with the portal's own site (login throttling, media)."""

    default = False
    default_site = "verification.backoffice.site.KycAdminSite"


class VerificationConfig(AppConfig):
    default = True
    name = "verification"
    verbose_name = _("Verification")

    def ready(self):
        from django_tasks.signals import task_started

        # Imported for what they register: system checks and signal receivers.
        from .backoffice import admin_sessions, login_throttle  # noqa: F401
        from .platform import logs
        from .web import checks  # noqa: F401

        task_started.connect(logs.task_request_id, dispatch_uid="verification.logs.task_request_id")
