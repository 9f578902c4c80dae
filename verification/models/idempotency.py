"""Idempotency keys of the integration API (Stripe's rules): the first
answer to a POST sent with an `Idempotency-Key` is kept for a day and
answered again to a retry with the same key and the same body."""

from datetime import timedelta

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .clients import ApiClient

KEPT_FOR = timedelta(hours=24)


class IdempotencyKey(models.Model):
    """One client's key. The row is claimed (inserted) before the request
    does anything: the unique constraint lets exactly one of two concurrent
    requests with the same key go on. `status` stays null until its answer
    is stored."""

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="idempotency_keys")
    key = models.CharField(max_length=255)
    # What the key was first used for: the method, the path and a SHA-256 of the body.
    request_hash = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("idempotency key")
        constraints = [models.UniqueConstraint(fields=["client", "key"], name="one_idempotency_key_per_client")]

    def __str__(self):
        return self.key

    @property
    def is_expired(self) -> bool:
        return timezone.now() >= self.created_at + KEPT_FOR

    @property
    def is_answered(self) -> bool:
        return self.status is not None

    def record_answer(self, *, status: int, body: dict) -> None:
        self.status, self.body = status, body
        self.save(update_fields=["status", "body"])

    def release(self) -> None:
        """The request ended without an answer worth repeating (a server
        error, a rate limit): the key may be used again."""
        type(self).objects.filter(pk=self.pk, status__isnull=True).delete()
