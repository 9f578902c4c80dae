"""Recorded methods (a video or a photo made in our page): the challenge
of an attempt, and the sending of an accepted upload to its vendor, once.
Uploads themselves are checked in `uploads`."""

import logging
import shutil
import tempfile
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from django.core.files.base import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_tasks import task

from .. import media
from ..domain.errors import NotNow, VendorDown, WrongStep
from ..domain.outcome import ERROR, FAILED, Outcome
from ..methods import Method, method_of
from ..methods.base import Challenge, vendor_failure
from ..models import Submission, VerificationSession
from ..vendors.base import VendorConnectionError, VendorError, backoff_seconds
from .messages import REPLAYED_MESSAGE, user_message
from .outcomes import finish
from .replays import find_copy, keep_fingerprint
from .routing import fall_over, require_method
from .sessions import begin_attempt, link_expired_refusal, refuse_if_link_expired, refuse_without_consent
from .vendor_calls import recorder_for

logger = logging.getLogger(__name__)

# Far past any vendor call's timeouts: a submission still `sending` then was
# left by a worker that died mid-call.
SENDING_GIVE_UP_AFTER = timedelta(minutes=5)
SEND_RETRIES = 4  # connection failures before the request left: asked again with backoff


# --- the challenge ------------------------------------------------------------------


# Asked again when a new challenge comes out equal to the one it replaces.
NEW_CHALLENGE_TRIES = 3

CHALLENGE_EXPIRED_MESSAGE = _(
    "What to say or do on camera has expired: it lasts a short while, so that a recording "
    "cannot be prepared in advance. A new one is ready: please record again."
)


def session_current_challenge(*, session: VerificationSession) -> tuple[Method, Challenge]:
    """The live challenge of the attempt under way, read only: it never starts
    an attempt nor calls a vendor (`session_issue_challenge` does, on POST)."""
    method = recorded_method(session)
    if session.is_link_expired:
        raise link_expired_refusal()
    refuse_without_consent(session)
    refuse_while_processing(session)
    if session.status == session.Status.IN_PROGRESS and session.challenge_kind:
        if session.challenge_expired():
            raise NotNow(CHALLENGE_EXPIRED_MESSAGE, code="challenge_expired")
        return method, Challenge(session.challenge_kind, session.challenge_value)
    raise NotNow(_("No check is under way. Start one first."), code="no_challenge")


def session_issue_challenge(*, session: VerificationSession, ip: str = "") -> tuple[Method, Challenge]:
    """What to do on camera for the current attempt, starting an attempt when
    none is under way. Asking again within the challenge's life (a reload, a
    second window) gets the same challenge back; once it has expired, a new
    one (for a vendor's lip code, a new call) in the same attempt."""
    method = recorded_method(session)
    refuse_if_link_expired(session)
    refuse_without_consent(session)
    previous = ""
    if session.status == session.Status.IN_PROGRESS and session.challenge_kind:
        if not session.challenge_expired():
            return method, Challenge(session.challenge_kind, session.challenge_value)
        previous = session.challenge_value
        if not session_expire_challenge(session=session):
            # Another request moved the attempt on since this one read it.
            return session_issue_challenge(session=session, ip=ip)
    refuse_while_processing(session)
    if session.status != session.Status.IN_PROGRESS:
        begin_attempt(session, ip=ip)
    try:
        challenge = _new_challenge(method, session, unlike=previous)
    except VendorError as error:
        if fall_over(session, error):
            # The page was made for the previous method: it reloads into the next one.
            raise NotNow(_("Please continue with the next step."), code="method_changed") from None
        finish(session, vendor_failure(error), give_back_attempt=True)  # nothing was recorded or billed
        raise VendorDown(user_message(session), code="vendor_unavailable") from None
    session.set_challenge(kind=challenge.kind, value=challenge.value)
    return method, challenge


def _new_challenge(method: Method, session: VerificationSession, *, unlike: str) -> Challenge:
    """A challenge whose value differs from the expired one it replaces
    (a short code or two actions can come out the same by chance)."""
    for _try in range(NEW_CHALLENGE_TRIES):
        challenge = method.new_challenge(session, recorder=recorder_for(session))
        if not unlike or challenge.value != unlike:
            break
    return challenge


def session_expire_challenge(*, session: VerificationSession) -> bool:
    """An expired challenge answers nothing more; the attempt stays under way
    and the next challenge asked for is new. False (the session read again)
    when another request changed the challenge first."""
    dropped = session.drop_challenge()
    if dropped:
        logger.info("session=%s challenge expired", session.pk)
    return dropped


def recorded_method(session: VerificationSession) -> Method:
    method = require_method(session)
    if not method.is_recorded:
        raise WrongStep(_("This verification does not record a video."), code="wrong_method")
    return method


def refuse_while_processing(session: VerificationSession) -> None:
    if session.status == session.Status.PROCESSING:
        raise NotNow(_("Your recording is being checked. Please wait for the result."), code="processing")


# --- sending an accepted upload ---------------------------------------------------------


def enqueue_submission(submission: Submission, *, tries: int, at=None) -> None:
    job = send_submission.using(run_after=at) if at else send_submission
    transaction.on_commit(lambda: job.enqueue(submission.pk, tries))


def submission_send(*, submission_id: int, tries: int = 0) -> None:
    """Normalises a submission and sends it to its vendor, once. Connection
    failures before the request left are tried again; an answer that never
    came after sending is offered to the person as a retry, never resent."""
    submission = Submission.objects.select_related("session").get(pk=submission_id)
    session = submission.session
    if submission.state != Submission.State.RECEIVED or session.status != session.Status.PROCESSING:
        return
    with _vendor_ready_file(submission) as vendor_ready:
        if vendor_ready is None:
            return
        if not submission.claim_for_sending():
            return  # another worker has it
        _enqueue_watchdog(submission)
        _send_claimed(session, submission, vendor_ready, tries=tries)


def _send_claimed(session: VerificationSession, submission: Submission, vendor_ready: Path, *, tries: int) -> None:
    method = method_of(session.method)
    try:
        outcome = method.send(session, submission, vendor_ready, recorder=recorder_for(session))
    except VendorError as error:
        if session.is_auto and _fall_over_unsent(session, submission, error):
            return
        if not error.reached and tries < SEND_RETRIES:
            submission.release_unsent()
            enqueue_submission(submission, tries=tries + 1, at=timezone.now() + timedelta(seconds=backoff_seconds(tries)))
            return
        unanswered = isinstance(error, VendorConnectionError) and error.reached
        submission.record_sent(answered=not unanswered)
        if unanswered:
            finish(session, Outcome(ERROR, "vendor_timeout", vendor=error.vendor, retryable=True))
        else:
            finish(session, vendor_failure(error))
        return
    submission.record_sent(answered=True)
    finish(session, outcome)


def _fall_over_unsent(session: VerificationSession, submission: Submission, error: VendorError) -> bool:
    """An `auto` session whose vendor was down before billing moves on; the
    recording, made for this vendor's challenge, is set aside and the
    person records again for the next method (the attempt given back)."""
    with transaction.atomic():
        if not fall_over(session, error):
            return False
        submission.set_aside("vendor_down")
    return True


def _enqueue_watchdog(submission: Submission) -> None:
    at = timezone.now() + SENDING_GIVE_UP_AFTER
    transaction.on_commit(lambda: check_submission_answered.using(run_after=at).enqueue(submission.pk))


def submission_check_answered(*, submission_id: int) -> None:
    """A worker that died (or was killed) between sending a submission and
    reading the answer leaves it `sending` for ever. Past
    SENDING_GIVE_UP_AFTER it counts as sent but never answered: the person
    is offered a retry, and it is never resent (the vendor may have billed it)."""
    if not Submission.give_up_unanswered(submission_id, sent_before=timezone.now() - SENDING_GIVE_UP_AFTER):
        return
    session = VerificationSession.objects.get(submissions__pk=submission_id)
    logger.warning("submission=%s session=%s never answered: given up", submission_id, session.pk)
    if session.status == session.Status.PROCESSING:
        finish(session, Outcome(ERROR, "vendor_timeout", retryable=True))


@contextmanager
def _vendor_ready_file(submission: Submission):
    """A local path to the file the vendor gets (the photo as an upright
    JPEG of a size the vendor takes, the video as MP4/H.264/AAC within its
    size limit), made and stored once; or None when it cannot be made so or
    the video is a recording sent before: the submission is then refused."""
    if submission.normalised:
        with _local_copy(submission.normalised) as ready:
            yield ready
        return
    photo = submission.kind == Submission.Kind.PHOTO
    with tempfile.TemporaryDirectory() as workdir, _local_copy(submission.original) as original:
        target = Path(workdir) / ("normalised.jpg" if photo else "normalised.mp4")
        try:
            if photo:
                target.write_bytes(media.normalise_photo(original.read_bytes()))
            else:
                normalised = media.normalise_video(
                    original, target, facts=media.VideoFacts(**submission.facts),
                    max_bytes=method_of(submission.session.method).max_upload_bytes,
                )
                _keep_video_fingerprint(submission, normalised.fingerprint)
        except media.MediaRejected as rejected:
            _refuse(submission, rejected.code)
            yield None
            return
        with target.open("rb") as file:
            submission.normalised.save(media.stored_name("jpeg" if photo else "mp4"), File(file), save=True)
        yield target


def _keep_video_fingerprint(submission: Submission, fingerprint: media.Fingerprint | None) -> None:
    """Refuses a recording of this client sent before; keeps the fingerprint
    of any other. (A photo's is kept, and checked, when it is uploaded.)"""
    if fingerprint is None:
        return
    if find_copy(fingerprint=fingerprint, session=submission.session):
        logger.info("submission=%s session=%s refused: a recording sent before", submission.pk, submission.session_id)
        raise media.MediaRejected("replayed", REPLAYED_MESSAGE)
    keep_fingerprint(submission, fingerprint)


def _refuse(submission: Submission, code: str) -> None:
    """Nothing reached a vendor: the submission stays, refused, for the
    reviewer; the attempt is given back and the person told to try again."""
    submission.refuse(code)
    finish(submission.session, Outcome(FAILED, code, retryable=True), give_back_attempt=True)


@contextmanager
def _local_copy(field_file):
    """A path on this machine to a stored file: the file itself on local
    storage, else a temporary copy (object storage has no paths)."""
    try:
        local = Path(field_file.path)
    except NotImplementedError:
        local = None
    if local is not None:
        yield local
        return
    with tempfile.NamedTemporaryFile(suffix=Path(field_file.name).suffix) as copy:
        with field_file.open("rb") as stored:
            shutil.copyfileobj(stored, copy, 1024 * 1024)
        copy.flush()
        yield Path(copy.name)


@task()
def send_submission(submission_id: int, tries: int = 0) -> None:
    """Normalises a recorded video (or takes a photo) and sends it to its vendor, once."""
    submission_send(submission_id=submission_id, tries=tries)


@task()
def check_submission_answered(submission_id: int) -> None:
    """Gives up on a submission whose worker died while sending it."""
    submission_check_answered(submission_id=submission_id)
