from django.apps import AppConfig


class VerificationConfig(AppConfig):
    name = "verification"
    verbose_name = "Verification"

    def ready(self):
        from . import checks  # noqa: F401  (registers the start-up checks)
