from django.apps import AppConfig
from django.db.models.signals import post_migrate


class SandboxConfig(AppConfig):
    name = "sandbox"
    verbose_name = "Vendor sandbox"

    def ready(self):
        from .integrator_account import keep_account_after_migrate

        # Once per migrate, after every app's migrations: the demo
        # integrator's account at the portal (integrator_account.py).
        post_migrate.connect(
            keep_account_after_migrate, sender=self, dispatch_uid="sandbox.integrator_account"
        )
