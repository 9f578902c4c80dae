"""Webhook messages to integrators and each attempt to deliver one."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from .clients import ApiClient
from .sessions import VerificationSession


class WebhookMessage(models.Model):
    """One event for an integrator's webhook URL (Standard Webhooks). Every
    attempt of it carries the same `msg_id`, so a receiver can drop repeats;
    `sequence` grows with each event of a session, so it can drop stale ones."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="webhook_messages")
    session = models.ForeignKey(
        VerificationSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="webhook_messages"
    )
    msg_id = models.CharField(max_length=40, unique=True, editable=False)
    event_type = models.CharField(max_length=40, db_index=True)
    sequence = models.PositiveIntegerField()
    payload = models.JSONField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("webhook message")
        verbose_name_plural = _("webhook messages")
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["session", "sequence"], name="one_webhook_per_sequence")]

    def __str__(self):
        return f"{self.event_type} #{self.sequence} {self.msg_id}"


class WebhookAttempt(models.Model):
    """One POST of a webhook message, whatever happened."""

    message = models.ForeignKey(WebhookMessage, on_delete=models.CASCADE, related_name="attempt_rows")
    attempt = models.PositiveSmallIntegerField()
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=255, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")
        ordering = ["attempt", "created_at"]

    def __str__(self):
        return f"#{self.attempt} {self.http_status or self.error}"
