"""The sandbox's demo integrator (/sandbox/integrator/, served from another
origin) is a product team like any other: it calls the API with its own key
and receives signed webhooks. In sandbox mode the portal keeps its API client,
with the documented public key and secret of `sandbox.credentials`. The key
is a test key, so after a switch to live mode the portal refuses it, and its
webhook URL (on the portal's own origin) is then refused too."""

from django.conf import settings
from django.db.models.signals import post_migrate
from django.utils import timezone

from sandbox import credentials

from .models import ApiClient, ApiKey

INTEGRATOR_NAME = "Sandbox demo integrator"


def ensure_sandbox_integrator() -> ApiClient:
    """Creates or updates the demo integrator's client for the current
    SITE_URL: its origin is the portal's with 127.0.0.1 and localhost
    swapped, its webhooks go to the sandbox's receiver."""
    client, _created = ApiClient.objects.update_or_create(
        name=INTEGRATOR_NAME,
        defaults={
            "allowed_origins": [credentials.integrator_origin(settings.SITE_URL)],
            "webhook_url": f"{settings.SITE_URL}/sandbox/integrator/webhooks",
            "webhook_secret": credentials.INTEGRATOR_WEBHOOK_SECRET,
            "webhook_secret_previous": "",
            "is_active": True,
        },
    )
    # The demo's backend knows only the published key: it is restored (even
    # after a revoke) and every other key of this client is revoked, such as
    # the one published before keys carried their mode.
    published = ApiKey.hash_key(credentials.INTEGRATOR_API_KEY)
    client.keys.exclude(key_hash=published).filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
    ApiKey.objects.update_or_create(
        key_hash=published,
        defaults={
            "client": client,
            "hint": credentials.INTEGRATOR_API_KEY[: ApiKey.HINT_LENGTH],
            "mode": ApiKey.Mode.TEST,
            "expires_at": None,
            "revoked_at": None,
        },
    )
    return client


def _after_migrate(sender, **kwargs):
    if settings.SANDBOX_MODE and sender.name == "verification":
        ensure_sandbox_integrator()


def connect():
    post_migrate.connect(_after_migrate, dispatch_uid="verification.demo.sandbox_integrator")
