"""Background work. Tasks are thin: they take ids and call one service."""

from datetime import timedelta

from django_tasks import task

from . import services, webhooks
from .models import VerificationSession


@task()
def collect_h5_result(session_id: str, vendor_token: str, tries: int = 0, due: str = "") -> None:
    """One link of an attempt's result-polling chain (the browser may never come back)."""
    session = VerificationSession.objects.select_related("client").get(pk=session_id)
    services.session_collect_h5_result(session=session, vendor_token=vendor_token, tries=tries, due=due)


@task()
def store_face_image(session_id: str, sealed_url: str, tries: int = 0) -> None:
    """Downloads the face photo Jumdata returned with a pass."""
    services.session_store_face_image(session_id=session_id, sealed_url=sealed_url, tries=tries)


@task()
def send_submission(submission_id: int, tries: int = 0) -> None:
    """Normalises a recorded video (or takes a photo) and sends it to its vendor, once."""
    services.submission_send(submission_id=submission_id, tries=tries)


@task()
def check_submission_answered(submission_id: int) -> None:
    """Gives up on a submission whose worker died while sending it."""
    services.submission_check_answered(submission_id=submission_id)


@task()
def purge_expired_data() -> None:
    """Applies the retention periods, then queues itself for the next day."""
    services.sessions_purge_expired()
    services.schedule_daily_purge(after=timedelta(days=1))


@task()
def expire_links() -> None:
    """Records the expiry of sessions whose link has passed it, then queues
    itself again (page loads only show a link as expired; they never write)."""
    try:
        services.sessions_expire_links()
    finally:
        services.schedule_expiry_sweep()


@task()
def deliver_webhook(message_id: int) -> None:
    """One attempt of a webhook message; the next one, if needed, is queued by the service."""
    webhooks.webhook_deliver(message_id=message_id)
