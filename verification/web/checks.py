"""Start-up checks (`manage.py check`, run by runserver and migrate)."""

from django.conf import settings
from django.core import checks
from django.urls import reverse

from ..models.sessions import new_link_token
from ..vendors.jumdata import RETURN_URL_MAX_LENGTH


@checks.register(checks.Tags.urls)
def check_jumdata_return_url_fits(app_configs=None, **kwargs):
    """Jumdata refuses a returnUrl over 128 characters, and ours is SITE_URL
    plus the link token: a long SITE_URL would break every H5 start."""
    sample = settings.SITE_URL + reverse("verification:h5_return", args=[new_link_token()])
    if len(sample) <= RETURN_URL_MAX_LENGTH:
        return []
    room = RETURN_URL_MAX_LENGTH - (len(sample) - len(settings.SITE_URL))
    return [
        checks.Error(
            f"SITE_URL is too long: the Jumdata returnUrl would be {len(sample)} characters "
            f"(at most {RETURN_URL_MAX_LENGTH}).",
            hint=f"Use a SITE_URL of at most {room} characters.",
            id="verification.E001",
        )
    ]


@checks.register(checks.Tags.security, deploy=True)
def check_not_sandbox_in_production(app_configs=None, **kwargs):
    """`check --deploy` in sandbox mode with DEBUG off: a deployment that
    forgot KYC_VENDOR_MODE=live serves emulated vendors (every check
    "passes") and accepts test keys, the published demo key among them."""
    if settings.DEBUG or not settings.SANDBOX_MODE:
        return []
    return [
        checks.Warning(
            "KYC_VENDOR_MODE is sandbox while DEBUG is off: the vendors are the portal's own emulators and "
            "test API keys (kyc_test_…), the published demo key among them, are accepted.",
            hint="In production set KYC_VENDOR_MODE=live and the vendors' credentials; give each API client a "
            "live key with `python manage.py rotate_api_key NAME`.",
            id="verification.W001",
        )
    ]
