from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class KycAdminConfig(admin_apps.AdminConfig):
    """Django's admin with the portal's own site (login throttling, media)."""

    default = False
    default_site = "verification.admin_site.KycAdminSite"


class VerificationConfig(AppConfig):
    default = True
    name = "verification"
    verbose_name = "Verification"

    def ready(self):
        from . import checks, demo, login_throttle  # noqa: F401  (registers checks and signal receivers)

        demo.connect()
