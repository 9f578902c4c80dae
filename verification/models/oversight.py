"""Oversight: reviewers' decisions, the audit trail and failed sign-ins."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..domain.errors import IllegalTransition
from .sessions import VerificationSession


class AuditEntry(models.Model):
    """Who saw or did what. Append-only: the model refuses updates and
    deletes, the admin offers neither, and on PostgreSQL a trigger refuses
    them in the database too (migration 0015_audit_append_only)."""

    class Action(models.TextChoices):
        VIEW_SESSION = "view_session", _("Viewed a session")
        VIEW_IDENTITY = "view_identity", _("Viewed full name and ID number")
        VIEW_MEDIA = "view_media", _("Viewed media")
        DECIDE = "decide", _("Decided")
        EXPORT = "export", _("Exported")
        PURGE = "purge", _("Purged personal data")
        ERASE = "erase", _("Erased on request")
        # `detail` holds the keyed hash of the number searched, never the number.
        SEARCH_IDENTITY = "search_identity", _("Searched by ID number")
        SEARCH_REFUSED = "search_refused", _("Refused a search by ID number")
        NOTE = "note", _("Added a note")
        CLAIM = "claim", _("Claimed a case")
        REASSIGN = "reassign", _("Reassigned a case")
        ROTATE_API_KEY = "rotate_api_key", _("Rotated an API key")
        REVOKE_API_KEYS = "revoke_api_keys", _("Revoked API keys")
        # What the browser said about how an accepted upload was captured.
        CAPTURE = "capture", _("Capture facts received")

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    actor_name = models.CharField(max_length=150, help_text=_("Kept if the user is deleted; 'system' for tasks."))
    action = models.CharField(max_length=20, choices=Action.choices, db_index=True)
    session_ref = models.UUIDField(null=True, blank=True, db_index=True,
                                   help_text=_("The session's id; kept after the session is erased."))
    detail = models.CharField(max_length=255, blank=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name} {self.action}"

    @classmethod
    def record(cls, *, actor, action: str, session=None, detail: str = "") -> "AuditEntry":
        """Appends an entry. `actor` is a user, or None for the system (tasks,
        commands). `detail` must never hold a name, an ID number or media."""
        signed_in = actor is not None and actor.is_authenticated
        return cls.objects.create(
            actor=actor if signed_in else None,
            actor_name=actor.get_username() if signed_in else "system",
            action=action,
            session_ref=getattr(session, "pk", None),
            detail=detail[:255],
        )

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise IllegalTransition("audit entries cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise IllegalTransition("audit entries cannot be deleted")


class ReviewDecision(models.Model):
    """A reviewer's decision on a session, with the required note. Under the
    four-eyes rule a decision may wait for a second reviewer's confirmation."""

    class Decision(models.TextChoices):
        APPROVE = "approve", _("Approve")
        REJECT = "reject", _("Reject")
        RETRY = "retry", _("Ask the person to try again")

    session = models.ForeignKey(VerificationSession, on_delete=models.CASCADE, related_name="decisions")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    note = models.TextField()
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    needs_second_reviewer = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("review decision")
        verbose_name_plural = _("review decisions")
        ordering = ["created_at"]

    def __str__(self):
        return f"{self.get_decision_display()} by {self.reviewer}"

    @property
    def is_final(self) -> bool:
        return not self.needs_second_reviewer or self.confirmed_by_id is not None

    def confirm(self, *, reviewer) -> bool:
        """The second reviewer's confirmation, in one conditional UPDATE:
        False when another reviewer confirmed it first."""
        now = timezone.now()
        done = type(self).objects.filter(pk=self.pk, needs_second_reviewer=True, confirmed_by=None).update(
            confirmed_by=reviewer, confirmed_at=now
        )
        if done != 1:
            self.refresh_from_db()
            return False
        self.confirmed_by, self.confirmed_at = reviewer, now
        return True


class CaseNote(models.Model):
    """A reviewer's note on a case, written without deciding."""

    session = models.ForeignKey(VerificationSession, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("case note")
        verbose_name_plural = _("case notes")
        ordering = ["created_at"]


class LoginFailure(models.Model):
    """A failed admin login, counted by the login throttle."""

    username = models.CharField(max_length=150, db_index=True)
    ip = models.GenericIPAddressField(null=True, db_index=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("failed login")
        verbose_name_plural = _("failed logins")
