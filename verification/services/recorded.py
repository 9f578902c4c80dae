"""Recorded methods (a video or a photo made in our page): the challenge
of an attempt, and the sending of an accepted upload to its vendor, once.
Uploads themselves are checked in `uploads`."""

import logging
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager, suppress
from datetime import timedelta
from pathlib import Path

from django.core.files.base import File
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from .. import media
from ..domain.errors import NotNow, VendorDown, WrongStep
from ..domain.outcome import ERROR, FAILED, Outcome
from ..methods import Method, method_of
from ..methods.base import Challenge, vendor_failure
from ..models import Submission, VerificationSession
from ..platform.storage import STORAGE_ERRORS
from ..vendors.base import VendorConnectionError, VendorError, backoff_seconds
from .messages import REPLAYED_MESSAGE, user_message
from .outcomes import finish
from .replays import find_copy, keep_fingerprint
from .routing import fall_over, require_method
from .sessions import begin_attempt, link_expired_refusal, refuse_if_link_expired, refuse_without_consent
from .vendor_calls import recorder_for

logger = logging.getLogger(__name__)

# While it waits for the vendor, the sending worker writes a heartbeat on
# the submission every SENDER_HEARTBEAT (a thread of its own); a submission
# `sending` whose heartbeat is older than SENDER_SILENT_AFTER (three missed
# beats) was left by a worker that died mid-call, and the watchdog (any
# other worker) gives it up: the person sees a retry about half a minute
# after the death, not minutes later.
SENDER_HEARTBEAT = timedelta(seconds=10)
SENDER_SILENT_AFTER = 3 * SENDER_HEARTBEAT
# Far past any vendor call's timeouts: a submission still `sending` then is
# given up even if its worker still beats (alive but hung).
SENDING_GIVE_UP_AFTER = timedelta(minutes=5)
# A submission still `received` this long after its send task was queued or
# started has lost that task (its worker died normalising it, or the
# database went away under it): nothing reached the vendor, so the watchdog
# queues the send again.
SEND_TASK_LOST_AFTER = timedelta(minutes=2)
# How long a vendor's answer waits for a database that went away (inside
# SENDER_SILENT_AFTER: the heartbeat keeps the claim meanwhile).
RECORD_ANSWER_FOR = timedelta(seconds=20)
SEND_RETRIES = 4  # connection failures before the request left: asked again with backoff
# Media storage away or full before anything was sent: the send is tried
# again every STORAGE_RETRY_EVERY while the upload is younger than
# STORAGE_RETRY_FOR, then the person is asked to upload again.
STORAGE_RETRY_EVERY = timedelta(seconds=10)
STORAGE_RETRY_FOR = timedelta(minutes=5)


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
    if tries == 0 and at is None:  # a new upload: watched until it is sent
        _enqueue_watchdog(submission.pk, at=timezone.now() + SEND_TASK_LOST_AFTER)


def submission_send(*, submission_id: int, tries: int = 0) -> None:
    """Normalises a submission and sends it to its vendor, once. Connection
    failures before the request left are tried again; an answer that never
    came after sending is offered to the person as a retry, never resent."""
    submission = Submission.objects.select_related("session").get(pk=submission_id)
    session = submission.session
    if submission.state != Submission.State.RECEIVED or session.status != session.Status.PROCESSING:
        return
    try:
        with _vendor_ready_file(submission) as vendor_ready:
            if vendor_ready is None:
                return
            # Armed before the claim, so no death between the two leaves a claim unwatched.
            _enqueue_watchdog(submission.pk, at=timezone.now() + SENDER_SILENT_AFTER)
            if not submission.claim_for_sending():
                return  # another worker has it
            with _heartbeat(submission.pk):
                _send_claimed(session, submission, vendor_ready, tries=tries)
    except STORAGE_ERRORS as error:
        if submission.state != Submission.State.RECEIVED:
            raise  # sent (or being sent): never again; the watchdog gives it up
        _storage_unavailable(session, submission, tries=tries, error=error)


def _storage_unavailable(session: VerificationSession, submission: Submission, *, tries: int, error: Exception) -> None:
    """The stored upload could not be read, or its vendor-ready copy kept:
    nothing reached the vendor. Tried again a while; then the attempt is
    given back and the person asked to upload again."""
    if timezone.now() - submission.created_at < STORAGE_RETRY_FOR:
        logger.warning("submission=%s session=%s media storage unavailable (%s): tried again in %d s",
                       submission.pk, session.pk, type(error).__name__, STORAGE_RETRY_EVERY.total_seconds())
        enqueue_submission(submission, tries=tries, at=timezone.now() + STORAGE_RETRY_EVERY)
        return
    logger.error("submission=%s session=%s media storage unavailable (%s) for %s: the person is asked again",
                 submission.pk, session.pk, type(error).__name__, STORAGE_RETRY_FOR)
    submission.refuse("storage_unavailable")
    finish(session, Outcome(ERROR, "storage_unavailable", retryable=True), give_back_attempt=True)


def _send_claimed(session: VerificationSession, submission: Submission, vendor_ready: Path, *, tries: int) -> None:
    method = method_of(session.method)
    try:
        outcome = method.send(session, submission, vendor_ready, recorder=recorder_for(session))
    except VendorError as error:
        if session.is_auto and _fall_over_unsent(session, submission, error):
            return
        if not error.reached and tries < SEND_RETRIES:
            if submission.release_unsent():
                enqueue_submission(submission, tries=tries + 1, at=timezone.now() + timedelta(seconds=backoff_seconds(tries)))
            return
        unanswered = isinstance(error, VendorConnectionError) and error.reached
        if unanswered:
            _record_answer(session, submission, Outcome(ERROR, "vendor_timeout", vendor=error.vendor, retryable=True),
                           answered=False)
        else:
            _record_answer(session, submission, vendor_failure(error), answered=True)
        return
    _record_answer(session, submission, outcome, answered=True)


def _fall_over_unsent(session: VerificationSession, submission: Submission, error: VendorError) -> bool:
    """An `auto` session whose vendor was down before billing moves on; the
    recording, made for this vendor's challenge, is set aside and the
    person records again for the next method (the attempt given back)."""
    with transaction.atomic():
        if not fall_over(session, error):
            return False
        if not submission.set_aside("vendor_down"):
            # Given up meanwhile (its sender looked dead): the retry offered then stands.
            transaction.set_rollback(True)
    if submission.state != Submission.State.REFUSED:
        session.refresh_from_db()
        return False
    return True


def _record_answer(session: VerificationSession, submission: Submission, outcome: Outcome, *, answered: bool) -> None:
    """The vendor's answer (perhaps billed) and the session's outcome, in
    one transaction. A database that goes away meanwhile (a restart) is
    waited for, a while: the answer is not thrown away for a second's
    outage. Should it stay away, nothing was recorded, the heartbeat stops
    with this task, and the watchdog offers the person a retry."""
    deadline = time.monotonic() + RECORD_ANSWER_FOR.total_seconds()
    while True:
        try:
            with transaction.atomic():
                if _recorded_sent(submission, answered=answered):
                    finish(session, outcome)
            return
        except DatabaseError as error:
            if time.monotonic() > deadline:
                raise
            logger.warning("submission=%s session=%s answer not recorded yet (%s): trying again",
                           submission.pk, session.pk, type(error).__name__)
            connection.close()
            time.sleep(1)
            session.refresh_from_db()  # what the failed transaction changed in memory, undone


def _recorded_sent(submission: Submission, *, answered: bool) -> bool:
    if submission.record_sent(answered=answered):
        return True
    # This worker looked dead to another (its heartbeat could not be written,
    # e.g. the database was away): the person was offered a retry already,
    # which stands; the vendor's answer is kept in its VendorCall row.
    logger.warning("submission=%s session=%s answered after it was given up: answer not applied",
                   submission.pk, submission.session_id)
    return False


@contextmanager
def _heartbeat(submission_id: int):
    """Beats for the submission in a thread while the block runs."""
    stop = threading.Event()
    beating = threading.Thread(target=sender_heartbeat, args=(submission_id, stop), daemon=True,
                               name=f"sender-heartbeat-{submission_id}")
    beating.start()
    try:
        yield
    finally:
        stop.set()
        beating.join()


def sender_heartbeat(submission_id: int, stop: threading.Event) -> None:
    """Writes the submission's heartbeat every SENDER_HEARTBEAT until `stop`
    is set or the submission is no longer `sending`. A database that is away
    costs beats, not the thread: it tries again at the next one."""
    try:
        while not stop.wait(SENDER_HEARTBEAT.total_seconds()):
            try:
                if not Submission.beat(submission_id):
                    return
            except DatabaseError as error:
                logger.warning("submission=%s heartbeat not written: %s", submission_id, type(error).__name__)
                connection.close()
    finally:
        with suppress(DatabaseError):  # (a test's live server may hand threads a shared connection)
            connection.close()  # this thread's own connection


def _enqueue_watchdog(submission_id: int, *, at) -> None:
    transaction.on_commit(lambda: check_submission_answered.using(run_after=at).enqueue(submission_id))


def submission_check_answered(*, submission_id: int) -> None:
    """A worker that died (or was killed) between sending a submission and
    reading the answer leaves it `sending`, its heartbeat silent. Once
    silent for SENDER_SILENT_AFTER (or sending for SENDING_GIVE_UP_AFTER) it
    counts as sent but never answered: the person is offered a retry, and it
    is never resent (the vendor may have billed it). While the sender still
    beats, the watchdog looks again when the heartbeat would go stale."""
    now = timezone.now()
    given_up = Submission.give_up_unanswered(
        submission_id, silent_since=now - SENDER_SILENT_AFTER, sent_before=now - SENDING_GIVE_UP_AFTER,
    )
    if not given_up:
        sending = Submission.objects.filter(pk=submission_id, state=Submission.State.SENDING).first()
        if sending is not None:
            last_sign = sending.heartbeat_at or sending.sent_at
            _enqueue_watchdog(submission_id, at=max(last_sign + SENDER_SILENT_AFTER, now + timedelta(seconds=1)))
        else:
            _resend_if_task_lost(submission_id, now=now)
        return
    session = VerificationSession.objects.get(submissions__pk=submission_id)
    logger.warning("submission=%s session=%s sender silent since %s: given up unanswered (never resent)",
                   submission_id, session.pk, Submission.objects.get(pk=submission_id).heartbeat_at)
    if session.status == session.Status.PROCESSING:
        finish(session, Outcome(ERROR, "vendor_timeout", retryable=True))


def _resend_if_task_lost(submission_id: int, *, now) -> None:
    """A submission still `received` while its session waits: queued again
    when no send task of it is waiting nor was started lately (nothing was
    sent: queueing it again bills nothing, and the claim lets one send)."""
    waiting = Submission.objects.filter(
        pk=submission_id, state=Submission.State.RECEIVED, session__status=VerificationSession.Status.PROCESSING,
    ).exists()
    if not waiting:
        return
    tasks = DBTaskResult.objects.filter(task_path=send_submission.module_path, args_kwargs__args__0=submission_id)
    alive = tasks.filter(status="READY").exists() or tasks.filter(
        status="RUNNING", started_at__gt=now - SEND_TASK_LOST_AFTER).exists()
    if not alive:
        logger.warning("submission=%s send task lost (its worker died before sending): queued again", submission_id)
        send_submission.enqueue(submission_id, 0)
    _enqueue_watchdog(submission_id, at=now + SEND_TASK_LOST_AFTER)


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
