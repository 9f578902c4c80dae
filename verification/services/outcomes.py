"""How an attempt ends, in one place: `finish` records an Outcome (the
images it carries, the session's new state), tells the integrator, and
fetches the face photo it points to. A vendor's face URL leads to a face,
so it travels to the worker sealed, and is never stored."""

import hashlib
import logging
from datetime import timedelta

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from .. import media
from ..domain.outcome import Image, Outcome
from ..methods import method_of
from ..models import SessionImage, Submission, VerificationSession
from ..platform import crypto
from ..platform.storage import STORAGE_ERRORS
from ..vendors.base import VendorError, backoff_seconds
from .review import session_triage
from .vendor_calls import recorder_for
from .webhooks import SESSION_COMPLETED, webhook_enqueue

logger = logging.getLogger(__name__)

FACE_URL_FIELD = "task:face_image_url"
FACE_IMAGE_TRIES = 5


def finish(session: VerificationSession, outcome: Outcome, *, give_back_attempt: bool = False) -> None:
    """Ends the session's attempt with `outcome`: keeps its images, saves,
    and queues the `session.completed` webhook. `give_back_attempt`: nothing
    was billed, so the attempt does not count."""
    with transaction.atomic():
        for image in outcome.images:
            _keep_image(session, image)
        if outcome.video:
            _keep_vendor_video(session, outcome.video)
        session.record_outcome(outcome, give_back_attempt=give_back_attempt)
        session_triage(session=session)
        webhook_enqueue(session=session, event_type=SESSION_COMPLETED)
    if outcome.face_image_url:
        sealed_url = crypto.encrypt(outcome.face_image_url, field=FACE_URL_FIELD)
        transaction.on_commit(lambda: store_face_image.enqueue(str(session.pk), sealed_url, 0))


def _keep_image(session: VerificationSession, image: Image) -> None:
    """Keeps an image a vendor returned, named by what it is; anything not a
    JPEG or PNG is not kept (staff's browsers would be asked to open it)."""
    image_format = media.image_format(image.content)
    if image_format is None:
        logger.warning("session=%s vendor image not kept: not a JPEG or PNG kind=%s", session.pk, image.kind)
        return
    try:
        with transaction.atomic():  # a savepoint: a failed save must not spoil the outcome's transaction
            SessionImage.objects.create(
                session=session, attempt=session.attempts_used, kind=image.kind,
                image=ContentFile(image.content, name=media.stored_name(image_format)),
            )
            if image.is_face:
                session.keep_face(media.stored_name(image_format), ContentFile(image.content))
    except STORAGE_ERRORS as error:
        # The verdict (perhaps billed) matters more than its picture: it is
        # recorded all the same.
        logger.error("session=%s vendor image not kept: media storage unavailable: %s kind=%s",
                     session.pk, type(error).__name__, image.kind)


def _keep_vendor_video(session: VerificationSession, video: bytes) -> None:
    """Keeps the video a vendor's own page recorded (FaceID's H5), as a
    submission of the attempt that the vendor already judged: reviewers
    watch it like a recording made on our page. Kept only if it is an MP4."""
    if video[4:8] != b"ftyp":
        logger.warning("session=%s vendor video not kept: not an MP4", session.pk)
        return
    Submission.objects.create(
        session=session, attempt=session.attempts_used, kind=Submission.Kind.VIDEO,
        capture=Submission.Capture.VENDOR_PAGE, original=ContentFile(video, name=media.stored_name("mp4")),
        content_sha256=hashlib.sha256(video).hexdigest(), state=Submission.State.ANSWERED,
    )


def session_store_face_image(*, session_id, sealed_url: str, tries: int) -> None:
    """Keeps the face photo a hosted page's vendor pointed to; its URL does
    not live for ever. A download without an answer, or with a 5xx, is tried
    again a few times (it bills nothing)."""
    session = VerificationSession.objects.get(pk=session_id)
    if session.face_image:
        return  # a repeated task
    url = crypto.decrypt(sealed_url, field=FACE_URL_FIELD)
    try:
        content = method_of(session.method).fetch_face_image(url, recorder=recorder_for(session))
    except VendorError as error:
        unanswered = error.http_status is None or error.http_status >= 500
        if unanswered and tries + 1 < FACE_IMAGE_TRIES:
            at = timezone.now() + timedelta(seconds=backoff_seconds(tries))
            store_face_image.using(run_after=at).enqueue(session_id, sealed_url, tries + 1)
        else:
            logger.warning("session=%s face image not stored (try %d)", session.pk, tries + 1)
        return
    session.keep_face(media.stored_name(media.image_format(content)), ContentFile(content))


@task()
def store_face_image(session_id: str, sealed_url: str, tries: int = 0) -> None:
    """Downloads the face photo a hosted page's vendor returned with a pass."""
    session_store_face_image(session_id=session_id, sealed_url=sealed_url, tries=tries)
