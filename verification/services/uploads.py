"""Uploads of recorded methods: every check that can fail runs before
anything is stored or sent, and an accepted file is queued for its vendor.
The `capture` word ("recorder" or "file") is the browser's own: it can only
add scrutiny (a chosen file marks the session for review)."""

import hashlib
import logging
from pathlib import Path

from django.core.files.base import File
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import media
from ..domain.errors import FileRefused, NotMedia, NotNow, StorageDown, WrongStep
from ..models import AuditEntry, Submission, VerificationSession
from ..platform.storage import STORAGE_ERRORS
from . import capture as capture_facts
from .messages import REPLAYED_MESSAGE, STORAGE_DOWN_MESSAGE
from .recorded import CHALLENGE_EXPIRED_MESSAGE, enqueue_submission, session_expire_challenge
from .replays import find_copy, keep_fingerprint, sent_before
from .routing import require_method
from .sessions import refuse_if_link_expired, refuse_without_consent

logger = logging.getLogger(__name__)

# Refusals of a file that is not a video or photo we can read at all.
NOT_MEDIA_CODES = frozenset({"not_a_video", "not_an_image", "unreadable", "animated", "unsupported_format"})
# Containers round their durations, and the clock of the challenge is read
# to the microsecond: a clip may be this much longer than the time since.
DURATION_TOLERANCE_SECONDS = 1.0


def session_submit_media(*, session: VerificationSession, kind: str, upload, capture: str,
                         capture_report: str | None = None) -> Submission:
    """Checks an uploaded video or photo and queues it for the vendor.
    `capture_report` is the page's JSON account of the capture
    (services.capture): kept as evidence, and it may add review reasons."""
    method = require_method(session)
    expected = Submission.Kind.PHOTO if method.takes_photo else Submission.Kind.VIDEO
    if not method.is_recorded or kind != expected:
        raise WrongStep(_("This verification does not take this kind of file."), code="wrong_method")
    refuse_if_link_expired(session)
    refuse_without_consent(session)
    if capture not in Submission.Capture.values:
        raise WrongStep(_("Say how the file was captured (recorder or file)."), code="bad_capture")
    report = capture_facts.parse_report(capture_report)
    if session.status != session.Status.IN_PROGRESS or not session.challenge_kind:
        raise NotNow(_("Start the check first: the page shows what to do on camera."), code="no_challenge")
    received_at = timezone.now()
    if session.challenge_expired(received_at):
        session_expire_challenge(session=session)
        raise NotNow(CHALLENGE_EXPIRED_MESSAGE, code="challenge_expired")
    path = Path(upload.temporary_file_path())
    review_reasons = ("file_upload",) if capture == Submission.Capture.FILE else ()
    fingerprint = None  # a video's comes from the frames normalising decodes (recorded.submission_send)
    try:
        if kind == Submission.Kind.VIDEO:
            needs_speech = method.needs_speech(session)
            facts = media.probe_video(path, measure_speech=needs_speech)
            media.check_video(facts, needs_speech=needs_speech)
            review_reasons += _time_review_reasons(session, facts, received_at)
            facts = facts.as_dict()
        else:
            image = media.probe_image(path)
            facts, fingerprint = image.as_dict(), image.fingerprint
    except media.MediaRejected as rejected:
        refusal = NotMedia if rejected.code in NOT_MEDIA_CODES else FileRefused
        raise refusal(rejected.message, code=rejected.code) from None

    digest = _sha256(path)
    if sent_before(sha256=digest, session=session) or (
        fingerprint and find_copy(fingerprint=fingerprint, session=session)
    ):
        raise NotNow(REPLAYED_MESSAGE, code="replayed")
    stored_as = facts["container"] if kind == Submission.Kind.VIDEO else facts["format"]
    capture_reasons = capture_facts.review_reasons(
        report, from_recorder=capture == Submission.Capture.RECORDER, stored_as=stored_as
    )
    submission = Submission(
        session=session, attempt=session.attempts_used, kind=kind, capture=capture, content_sha256=digest,
        facts=facts, capture_report=report or {},
        challenge_kind=session.challenge_kind, challenge_value=session.challenge_value,
        challenge_issued_at=session.challenge_issued_at,
    )
    try:
        with transaction.atomic():
            submission.original.save(media.stored_name(stored_as), File(upload), save=False)
            submission.save()
            if fingerprint:
                keep_fingerprint(submission, fingerprint)
            session.start_processing(review_reasons=review_reasons + capture_reasons)
            AuditEntry.record(actor=None, action=AuditEntry.Action.CAPTURE, session=session,
                              detail=f"attempt {submission.attempt}: {capture_facts.summary(report, capture_reasons)}")
    except IntegrityError:
        submission.original.delete(save=False)
        raise NotNow(_("This attempt was already submitted."), code="already_submitted") from None
    except STORAGE_ERRORS as error:
        # Full, or away: nothing was kept (the transaction rolled back), the
        # session still waits for this attempt's upload, the page asks again.
        logger.error("session=%s %s not stored: media storage unavailable: %s", session.pk, kind, type(error).__name__)
        raise StorageDown(STORAGE_DOWN_MESSAGE, code="storage_unavailable") from None
    enqueue_submission(submission, tries=0)
    logger.info("session=%s %s received capture=%s review=%s", session.pk, kind, capture,
                ",".join(capture_reasons) or "-")
    return submission


def _time_review_reasons(session: VerificationSession, facts: media.VideoFacts, received_at) -> tuple[str, ...]:
    """The clip must fit in the time between issuing its challenge and
    receiving it: a longer one was recorded before the challenge existed,
    and is refused (the session noted for review). One that began long after
    the challenge appeared is noted for review. (Sessions whose challenge
    predates issue times are not judged.)"""
    age = session.challenge_age(received_at)
    if age is None:
        return ()
    since_issue = age.total_seconds()
    if facts.longest > since_issue + DURATION_TOLERANCE_SECONDS:
        logger.info("session=%s refused: a %.1f s clip %.1f s after its challenge", session.pk, facts.longest,
                    since_issue)
        session.flag_for_review("implausible_duration")
        raise FileRefused(
            _("This recording is longer than the time since the challenge was shown, so it was not made "
              "for it. Please record again now."),
            code="longer_than_challenge",
        )
    # The upload's transfer counts as a late start: an estimate on the late side.
    if since_issue - facts.longest > settings.KYC_CHALLENGE_LATE_START_SECONDS:
        return ("late_start",)
    return ()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()
