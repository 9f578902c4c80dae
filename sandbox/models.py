"""State of the vendor emulators.

It lives in the database, not in memory, because several web processes may
serve the sandbox and the vendor's browser page and server API are different
requests that can land on different processes.
"""

from datetime import timedelta

from django.db import models
from django.utils import timezone


class JumdataTask(models.Model):
    """One Jumdata H5 liveness check, from `init` until its token dies."""

    class Outcome(models.TextChoices):
        # What the tester chose on the emulated page. ABANDON is kept (rather
        # than leaving the row untouched) so the first button press is final
        # whatever it was; `result` reports it as "no result yet" (201).
        PASS = "pass", "passed (200)"
        FAIL = "fail", "not passed (202)"
        ERROR = "error", "check failed (203)"
        ABANDON = "abandon", "left without finishing (201)"

    token = models.CharField(max_length=64, unique=True)
    app_id = models.CharField(max_length=64)
    # The taskNo that `init` answered with, to match sandbox rows to portal logs.
    init_task_no = models.CharField(max_length=24)
    return_url = models.CharField(max_length=128)
    # Comma lists exactly as validated; action order matters to the vendor.
    actions = models.CharField(max_length=255, blank=True)
    colors = models.CharField(max_length=255, blank=True)
    # A default rather than auto_now_add so tests can age a task.
    created_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=8, choices=Outcome.choices, blank=True)
    outcome_at = models.DateTimeField(null=True, blank=True)
    # The face image URL carries this random value, not the token or a
    # taskNo, so knowing either does not reveal the picture.
    face_token = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self):
        return f"Jumdata task {self.init_task_no} ({self.outcome or 'no outcome'})"

    def expires_at(self, ttl_seconds):
        return self.created_at + timedelta(seconds=ttl_seconds)

    def is_expired(self, ttl_seconds, now=None):
        return (now or timezone.now()) >= self.expires_at(ttl_seconds)

    @property
    def action_list(self):
        return self.actions.split(",") if self.actions else []

    @property
    def color_list(self):
        return self.colors.split(",") if self.colors else []
