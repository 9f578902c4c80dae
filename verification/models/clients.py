"""Integration clients and their API keys."""

import base64
import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class KeyRefused(Exception):
    """A known API key that may not be used now; `code` and `message` say why
    (the API answers 401 with them)."""

    def __init__(self, code: str, message: str, *, client_id: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.client_id = client_id


def new_webhook_secret() -> str:
    """A Standard Webhooks signing secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def public_link_problem(url: str) -> str:
    """Why `url` cannot be shown to the person as a link ("" if it can): an
    https address (http only for a local address, in development)."""
    try:
        URLValidator(schemes=["https", "http"])(url)
    except ValidationError:
        return "not a web address (https://…)"
    if url.startswith("http://") and url.split("/")[2].split(":")[0] not in ("localhost", "127.0.0.1"):
        return "must be an https address"
    return ""


def support_contact_problem(value: str) -> str:
    """Why `value` is neither an https address nor an e-mail address ("" if fine)."""
    if "://" in value:
        return public_link_problem(value)
    try:
        EmailValidator()(value)
    except ValidationError:
        return "neither a web address (https://…) nor an e-mail address"
    return ""


class ApiClient(models.Model):
    """A product team's integration. Its API keys are ApiKey rows: only a
    hash of each is kept, the key itself is shown once."""

    name = models.CharField(max_length=100, unique=True)
    allowed_origins = models.JSONField(default=list, blank=True)
    webhook_url = models.URLField(blank=True)
    # Standard Webhooks secret (`whsec_<base64>`); signing needs it in clear.
    webhook_secret = models.CharField(max_length=100, blank=True, editable=False)
    # The secret before the last rotation, still signed with until dropped.
    webhook_secret_previous = models.CharField(max_length=100, blank=True, editable=False)
    is_active = models.BooleanField(default=True)
    # The order `"method": "auto"` tries methods in for this client (names in
    # verification.methods.REGISTRY); a request's own `methods` overrides it.
    methods = models.JSONField(verbose_name=_("method order for auto"), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Who is asking, as the person on the consent, failure and expiry pages
    # is told (`shown_name` falls back to `name`).
    display_name = models.CharField(
        _("display name"), max_length=100, blank=True,
        help_text=_("The company name the person is shown, e.g. “Acme Bank”. Empty: the client's name."),
    )
    logo_url = models.URLField(
        _("logo URL"), blank=True,
        help_text=_("Optional: an https address of the company's logo, shown small above the consent."),
    )
    privacy_url = models.URLField(
        _("privacy policy URL"), blank=True, help_text=_("The company's privacy policy, linked from the consent."),
    )
    support_url = models.CharField(
        _("support contact"), max_length=200, blank=True,
        help_text=_("Where the person gets help: an https address or an e-mail address."),
    )

    class Meta:
        verbose_name = _("API client")
        verbose_name_plural = _("API clients")
        permissions = [("manage_api_keys", _("Can rotate and revoke API keys"))]

    def __str__(self):
        return self.name

    @classmethod
    def issue(cls, *, name: str, allowed_origins=(), webhook_url: str = "", display_name: str = "",
              logo_url: str = "", privacy_url: str = "", support_url: str = "",
              methods=()) -> tuple["ApiClient", str]:
        """A new client with one key of the portal's current mode."""
        client = cls.objects.create(
            name=name,
            allowed_origins=list(allowed_origins),
            methods=list(methods),
            webhook_url=webhook_url,
            webhook_secret=new_webhook_secret() if webhook_url else "",
            display_name=display_name,
            logo_url=logo_url,
            privacy_url=privacy_url,
            support_url=support_url,
        )
        _api_key, key = ApiKey.issue(client=client)
        return client, key

    @property
    def shown_name(self) -> str:
        """The company the person is told is asking."""
        return self.display_name or self.name

    @property
    def support_is_email(self) -> bool:
        return "@" in self.support_url and "://" not in self.support_url

    @property
    def support_href(self) -> str:
        """The support contact as a link (mailto: for an e-mail address)."""
        if not self.support_url:
            return ""
        return f"mailto:{self.support_url}" if self.support_is_email else self.support_url

    def clean(self):
        problems = {}
        for field in ("logo_url", "privacy_url"):
            if (value := getattr(self, field)) and (problem := public_link_problem(value)):
                problems[field] = problem
        if self.support_url and (problem := support_contact_problem(self.support_url)):
            problems["support_url"] = problem
        if problems:
            raise ValidationError(problems)

    @classmethod
    def authenticate(cls, key: str) -> "ApiClient | None":
        """The active client owning `key`, in one indexed query; None for a
        key nobody owns. Raises KeyRefused for a known key that is revoked,
        past its grace or of the other mode."""
        api_key = ApiKey.objects.select_related("client").filter(key_hash=ApiKey.hash_key(key)).first()
        if api_key is None or not api_key.client.is_active:
            return None
        api_key.check_usable(now=timezone.now(), mode=ApiKey.current_mode())
        return api_key.client

    def rotate_key(self, *, grace: timedelta, now=None) -> tuple["ApiKey", str]:
        """Issues a new key of the current mode; every other usable key stays
        valid for `grace` at most (a key already ending sooner keeps its
        end). Returns the new key's row and the key, to show once."""
        now = now or timezone.now()
        ends = now + grace
        usable = self.keys.filter(revoked_at__isnull=True)
        usable.filter(expires_at__isnull=True).update(expires_at=ends)
        usable.filter(expires_at__gt=ends).update(expires_at=ends)
        return ApiKey.issue(client=self, now=now)

    def revoke_keys(self, *, now=None) -> int:
        """Every key not yet revoked stops now; returns how many."""
        return self.keys.filter(revoked_at__isnull=True).update(revoked_at=now or timezone.now())

    def set_webhook_url(self, url: str) -> str:
        """Where session events go ("": nowhere). Returns the signing secret
        when one was made (a client that had none), to show once; the secret
        outlives a pause, so the receiver's copy stays good when webhooks are
        turned back on (rotate_webhook_secret changes it)."""
        self.webhook_url = url
        made = bool(url) and not self.webhook_secret
        if made:
            self.webhook_secret = new_webhook_secret()
        self.save(update_fields=["webhook_url", "webhook_secret"])
        return self.webhook_secret if made else ""

    def rotate_webhook_secret(self) -> str:
        """A new signing secret; the current one is kept as the previous,
        still signed with, so receivers can switch without losing a message."""
        self.webhook_secret_previous = self.webhook_secret
        self.webhook_secret = new_webhook_secret()
        self.save(update_fields=["webhook_secret", "webhook_secret_previous"])
        return self.webhook_secret

    def set_methods(self, methods) -> None:
        """The order `auto` sessions of this client follow (names checked by the caller)."""
        self.methods = list(methods)
        self.save(update_fields=["methods"])

    def drop_previous_webhook_secret(self) -> None:
        """Webhooks carry one signature again (the integrator uses the new secret)."""
        self.webhook_secret_previous = ""
        self.save(update_fields=["webhook_secret_previous"])


class ApiKey(models.Model):
    """One API key of a client. A client holds several while old keys are
    in their grace after a rotation. Like Stripe's, a key carries its mode:
    a test key (`kyc_test_…`) works only in sandbox mode, a live key
    (`kyc_live_…`) only in live mode. The mode is stored, so the refusal does
    not rest on the prefix alone (keys from before modes, `kyc_…`, were
    marked test keys by migration)."""

    class Mode(models.TextChoices):
        TEST = "test", _("Test (sandbox mode only)")
        LIVE = "live", _("Live (live mode only)")

    PREFIXES = {Mode.TEST: "kyc_test_", Mode.LIVE: "kyc_live_"}
    HINT_LENGTH = 13  # the prefix and four random characters

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="keys")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=16, editable=False, help_text=_("First characters of the key."))
    mode = models.CharField(max_length=4, choices=Mode.choices)
    created_at = models.DateTimeField(default=timezone.now)
    # Set by a rotation: the end of the old key's grace.
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.hint}…"

    @staticmethod
    def hash_key(key: str) -> str:
        # API keys are 256-bit random strings, so a plain SHA-256 cannot be
        # brute-forced and lets the lookup stay a single indexed query.
        return hashlib.sha256(key.encode()).hexdigest()

    @classmethod
    def current_mode(cls) -> str:
        return cls.Mode.TEST if settings.SANDBOX_MODE else cls.Mode.LIVE

    @classmethod
    def issue(cls, *, client: ApiClient, now=None) -> tuple["ApiKey", str]:
        """A new key of the portal's current mode: its row and the key itself."""
        mode = cls.current_mode()
        key = cls.PREFIXES[mode] + secrets.token_urlsafe(32)
        return cls.objects.create(
            client=client, key_hash=cls.hash_key(key), hint=key[: cls.HINT_LENGTH], mode=mode,
            created_at=now or timezone.now(),
        ), key

    def is_usable(self, now) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    def check_usable(self, *, now, mode: str) -> None:
        """Raises KeyRefused unless this key may be used now in `mode`."""
        if self.revoked_at is not None:
            raise KeyRefused(
                "key_revoked", "this API key was revoked; ask the portal's operator for a new one",
                client_id=self.client_id,
            )
        if self.expires_at is not None and now >= self.expires_at:
            raise KeyRefused(
                "key_expired", "this API key was replaced and its grace period is over; use the new key",
                client_id=self.client_id,
            )
        if self.mode != mode:
            if self.mode == self.Mode.TEST:
                message = "this is a test key; this portal runs in live mode: use a live key (kyc_live_…)"
            else:
                message = "this is a live key; this portal runs in sandbox mode: use a test key (kyc_test_…)"
            raise KeyRefused("wrong_mode", message, client_id=self.client_id)
