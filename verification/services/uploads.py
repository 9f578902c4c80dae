"""Uploads of recorded methods: every check that can fail runs before
anything is stored or sent, and an accepted file is queued for its vendor.
The `capture` word ("recorder" or "file") is the browser's own: it can only
add scrutiny (a chosen file marks the session for review)."""

import hashlib
import logging
from pathlib import Path

from django.core.files.base import File
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from .. import media
from ..domain.errors import FileRefused, NotMedia, NotNow, WrongStep
from ..models import Submission, VerificationSession
from .messages import REPLAYED_MESSAGE
from .recorded import enqueue_submission
from .replays import find_copy, keep_fingerprint, sent_before
from .routing import require_method
from .sessions import refuse_if_link_expired, refuse_without_consent

logger = logging.getLogger(__name__)

# Refusals of a file that is not a video or photo we can read at all.
NOT_MEDIA_CODES = frozenset({"not_a_video", "not_an_image", "unreadable", "animated", "unsupported_format"})


def session_submit_media(*, session: VerificationSession, kind: str, upload, capture: str) -> Submission:
    """Checks an uploaded video or photo and queues it for the vendor."""
    method = require_method(session)
    expected = Submission.Kind.PHOTO if method.takes_photo else Submission.Kind.VIDEO
    if not method.is_recorded or kind != expected:
        raise WrongStep(_("This verification does not take this kind of file."), code="wrong_method")
    refuse_if_link_expired(session)
    refuse_without_consent(session)
    if capture not in Submission.Capture.values:
        raise WrongStep(_("Say how the file was captured (recorder or file)."), code="bad_capture")
    if session.status != session.Status.IN_PROGRESS or not session.challenge_kind:
        raise NotNow(_("Start the check first: the page shows what to do on camera."), code="no_challenge")
    path = Path(upload.temporary_file_path())
    fingerprint = None  # a video's comes from the frames normalising decodes (recorded.submission_send)
    try:
        if kind == Submission.Kind.VIDEO:
            needs_speech = method.needs_speech(session)
            facts = media.probe_video(path, measure_speech=needs_speech)
            media.check_video(facts, needs_speech=needs_speech)
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
    submission = Submission(
        session=session, attempt=session.attempts_used, kind=kind, capture=capture, content_sha256=digest,
        facts=facts, challenge_kind=session.challenge_kind, challenge_value=session.challenge_value,
    )
    try:
        with transaction.atomic():
            stored_as = facts["container"] if kind == Submission.Kind.VIDEO else facts["format"]
            submission.original.save(media.stored_name(stored_as), File(upload), save=False)
            submission.save()
            if fingerprint:
                keep_fingerprint(submission, fingerprint)
            session.start_processing(review_reasons=("file_upload",) if capture == Submission.Capture.FILE else ())
    except IntegrityError:
        submission.original.delete(save=False)
        raise NotNow(_("This attempt was already submitted."), code="already_submitted") from None
    enqueue_submission(submission, tries=0)
    logger.info("session=%s %s received capture=%s", session.pk, kind, capture)
    return submission


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()
