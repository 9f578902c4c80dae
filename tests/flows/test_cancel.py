"""Ending a session before its outcome: the person declines, or the
integrator cancels. Either way for good, and the integrator is told."""

import pytest

from tests.support.factories import new_session
from verification.domain.errors import NotNow
from verification.models import VerificationSession, WebhookMessage
from verification.services.sessions import session_cancel

pytestmark = pytest.mark.django_db

S = VerificationSession.Status


@pytest.fixture
def hooked(alice):
    alice.set_webhook_url("https://shop.example/kyc-hook")
    return alice


def test_a_cancelled_session_tells_the_integrator(hooked):
    session = new_session(client=hooked, method="h5", external_ref="r", status=S.IN_PROGRESS)

    session_cancel(session=session, reason="cancelled_by_client")

    (message,) = WebhookMessage.objects.all()
    assert (message.event_type, message.payload["data"]["status"], message.payload["data"]["reason"]) == (
        "session.completed", "cancelled", "cancelled_by_client")


@pytest.mark.parametrize("status, code", [(S.PROCESSING, "processing"), (S.PASSED, "finished"),
                                          (S.CANCELLED, "finished")])
def test_a_session_being_checked_or_finished_is_not_cancelled(hooked, status, code):
    session = new_session(client=hooked, method="h5", external_ref="r", status=status)

    with pytest.raises(NotNow) as refused:
        session_cancel(session=session, reason="declined")

    assert refused.value.code == code
    assert VerificationSession.objects.get(pk=session.pk).status == status
    assert not WebhookMessage.objects.exists()


def test_a_failed_attempt_with_no_retry_left_is_already_final(hooked):
    session = new_session(client=hooked, method="h5", external_ref="r", status=S.FAILED, retryable=True,
                          attempts_used=3, max_attempts=3)
    with pytest.raises(NotNow):
        session_cancel(session=session, reason="declined")
