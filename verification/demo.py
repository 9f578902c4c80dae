"""The sandbox's demo integrator (/sandbox/integrator/, served from another
origin) is a product team like any other: it calls the API with its own key
and receives signed webhooks. In sandbox mode the portal keeps its API client,
with the documented public key and secret of `sandbox.credentials`."""

from django.conf import settings
from django.db.models.signals import post_migrate

from sandbox import credentials

from .models import ApiClient

INTEGRATOR_NAME = "Sandbox demo integrator"


def ensure_sandbox_integrator() -> ApiClient:
    """Creates or updates the demo integrator's client for the current
    SITE_URL: its origin is the portal's with 127.0.0.1 and localhost
    swapped, its webhooks go to the sandbox's receiver."""
    client, _created = ApiClient.objects.update_or_create(
        name=INTEGRATOR_NAME,
        defaults={
            "key_hash": ApiClient.hash_key(credentials.INTEGRATOR_API_KEY),
            "key_hint": credentials.INTEGRATOR_API_KEY[:10],
            "allowed_origins": [credentials.integrator_origin(settings.SITE_URL)],
            "webhook_url": f"{settings.SITE_URL}/sandbox/integrator/webhooks",
            "webhook_secret": credentials.INTEGRATOR_WEBHOOK_SECRET,
            "webhook_secret_previous": "",
            "is_active": True,
        },
    )
    return client


def _after_migrate(sender, **kwargs):
    if settings.SANDBOX_MODE and sender.name == "verification":
        ensure_sandbox_integrator()


def connect():
    post_migrate.connect(_after_migrate, dispatch_uid="verification.demo.sandbox_integrator")
