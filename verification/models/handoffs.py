"""Hand-off links: a session continued on another device."""

import secrets
from datetime import timedelta

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .sessions import VerificationSession


class Handoff(models.Model):
    """A short link that continues one session on another device, shown as
    a QR code and as text to copy (a desktop, or a frame or in-app browser
    where the camera cannot work, hands over to a phone). It opens the
    session as its full link does, so it is random and dies soon."""

    LIFETIME = timedelta(minutes=30)
    # Lower case without 0/o and 1/l/i, as it may be typed from a screen:
    # 31^12 ≈ 2^59 codes, each alive for half an hour.
    ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
    CODE_LENGTH = 12

    session = models.ForeignKey(VerificationSession, on_delete=models.CASCADE, related_name="handoffs")
    code = models.CharField(max_length=16, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    opened_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("hand-off link")
        verbose_name_plural = _("hand-off links")

    @classmethod
    def new_code(cls) -> str:
        return "".join(secrets.choice(cls.ALPHABET) for _ in range(cls.CODE_LENGTH))

    def is_live(self, now=None) -> bool:
        return (now or timezone.now()) < self.expires_at

    def mark_opened(self) -> None:
        """The first opening only: later ones, reloads and prefetches change nothing."""
        type(self).objects.filter(pk=self.pk, opened_at__isnull=True).update(opened_at=timezone.now())
