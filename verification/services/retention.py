"""Retention and erasure: media go KYC_MEDIA_RETENTION_DAYS after a session
was created, names and ID numbers KYC_PII_RETENTION_DAYS after; a
supervisor erases a session's personal data at once on request. The
outcome, the decisions, the ID number's keyed hash and the audit trail stay."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_tasks import task

from ..models import AuditEntry, VerificationSession
from ..vendors.base import erase_personal
from .idempotency import idempotency_keys_purge_expired
from .replays import forget_fingerprints
from .scheduling import enqueue_unless_waiting


def session_purge_media(*, session: VerificationSession) -> int:
    """Deletes every file of a session (uploads, normalised videos, faces,
    vendor images, reference photo). Returns how many files went."""
    files = [session.face_image, session.reference_photo]
    for submission in session.submissions.all():
        files += [submission.original, submission.normalised]
    gone = 0
    for field in files:
        if field:
            field.delete(save=False)
            gone += 1
    for image in session.images.all():
        image.image.delete(save=False)
        image.delete()
        gone += 1
    session.submissions.update(original="", normalised="")
    session.forget_media()
    return gone


def session_purge_identity(*, session: VerificationSession) -> None:
    """Forgets the name and ID number, the session's own and the masked ones
    its vendor-call summaries keep; the keyed hash stays for lookups."""
    session.forget_identity()
    for call in session.vendor_calls.all():
        request, response = erase_personal(call.request_summary), erase_personal(call.response_summary)
        if (request, response) != (call.request_summary, call.response_summary):
            call.request_summary, call.response_summary = request, response
            call.save(update_fields=["request_summary", "response_summary"])


ERASED_FIELDS = (
    _("full name"), _("ID number"), _("face image"), _("reference photo"), _("recorded videos and photos"),
    _("vendor images"), _("name and ID number in vendor-call records"), _("recording fingerprints"),
)
KEPT = (_("outcome and scores"), _("review decisions and notes"), _("the ID number's keyed hash"), _("audit log"))


def session_erasure_preview(*, session: VerificationSession) -> dict:
    """What session_erase would delete, before anything is: `{"files": n,
    "has_identity": bool}` (the fields are ERASED_FIELDS, what stays KEPT)."""
    files = sum(1 for field in (session.face_image, session.reference_photo) if field)
    for original, normalised in session.submissions.values_list("original", "normalised"):
        files += bool(original) + bool(normalised)
    files += session.images.count()
    return {"files": files, "has_identity": bool(session.realname or session.idcard)}


def session_erase(*, session: VerificationSession, actor) -> None:
    """Right to erasure: media, name and ID number go now; the outcome, the
    decisions and the audit trail remain."""
    files = session_purge_media(session=session)
    session_purge_identity(session=session)
    forget_fingerprints(session)
    AuditEntry.record(actor=actor, action=AuditEntry.Action.ERASE, session=session, detail=f"{files} files")


def sessions_purge_expired(*, now=None) -> tuple[int, int]:
    """Applies the retention periods. Returns (sessions whose media went,
    sessions whose name and ID number went)."""
    now = now or timezone.now()
    media_before = now - timedelta(days=settings.KYC_MEDIA_RETENTION_DAYS)
    pii_before = now - timedelta(days=settings.KYC_PII_RETENTION_DAYS)
    media_done = identity_done = 0
    with_media = (
        VerificationSession.objects.filter(created_at__lt=media_before)
        .filter(models.Q(submissions__original__gt="") | models.Q(face_image__gt="")
                | models.Q(reference_photo__gt="") | models.Q(images__isnull=False))
        .distinct()
    )
    for session in with_media.iterator():
        files = session_purge_media(session=session)
        AuditEntry.record(actor=None, action=AuditEntry.Action.PURGE, session=session,
                          detail=f"retention: {files} files")
        media_done += 1
    with_identity = VerificationSession.objects.filter(created_at__lt=pii_before).exclude(idcard="", realname="")
    for session in with_identity.iterator():
        if session.idcard or session.realname:
            session_purge_identity(session=session)
            AuditEntry.record(actor=None, action=AuditEntry.Action.PURGE, session=session,
                              detail="retention: name and ID number")
            identity_done += 1
    return media_done, identity_done


def schedule_daily_purge(*, after: timedelta) -> bool:
    """Queues the retention task unless one is already waiting."""
    return enqueue_unless_waiting(purge_expired_data, after=after)


@task()
def purge_expired_data() -> None:
    """Applies the retention periods (and forgets idempotency keys past
    their 24 hours), then queues itself for the next day."""
    sessions_purge_expired()
    idempotency_keys_purge_expired()
    schedule_daily_purge(after=timedelta(days=1))
