"""POST /api/v1/sessions/{id}/cancel: the integrator ends a session that is
not final; the person's link stops and the webhook tells the outcome."""

import pytest

from tests.support.factories import new_session
from verification.models import VerificationSession, WebhookMessage

pytestmark = pytest.mark.django_db

S = VerificationSession.Status


def cancel(client, who, session_id):
    return client.post(f"/api/v1/sessions/{session_id}/cancel", HTTP_AUTHORIZATION=f"Bearer {who.key}")


@pytest.fixture
def hooked(alice):
    alice.set_webhook_url("https://shop.example/kyc-hook")
    return alice


@pytest.mark.parametrize("status", [S.CREATED, S.IN_PROGRESS])
def test_alice_cancels_a_session_and_her_webhook_says_so(client, hooked, status):
    session = new_session(client=hooked, method="h5", external_ref="r", status=status)

    response = cancel(client, hooked, session.pk)

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["result"]["reason"], body["retry_allowed"]) == ("cancelled", "cancelled_by_client",
                                                                                 False)
    (message,) = WebhookMessage.objects.all()
    assert (message.payload["data"]["status"], message.payload["data"]["reason"]) == ("cancelled",
                                                                                     "cancelled_by_client")


def test_a_failed_session_that_could_be_retried_can_be_cancelled(client, alice):
    session = new_session(client=alice, method="h5", external_ref="r", status=S.FAILED, retryable=True,
                          attempts_used=1)

    assert cancel(client, alice, session.pk).json()["status"] == "cancelled"
    assert client.get(f"/v/{session.link_token}/status").json()["status"] == "cancelled"


@pytest.mark.parametrize("status, code", [(S.PROCESSING, "session_processing"), (S.PASSED, "session_final"),
                                          (S.CANCELLED, "session_final")])
def test_a_session_being_checked_or_final_is_a_409(client, hooked, status, code):
    session = new_session(client=hooked, method="h5", external_ref="r", status=status)

    response = cancel(client, hooked, session.pk)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == code
    assert VerificationSession.objects.get(pk=session.pk).status == status
    assert not WebhookMessage.objects.exists()


def test_charlie_cannot_cancel_alices_session(client, alice, charlie):
    session = new_session(client=alice, method="h5", external_ref="r")

    assert cancel(client, charlie, session.pk).status_code == 404
    assert cancel(client, alice, "not-a-uuid").status_code == 404
    assert VerificationSession.objects.get(pk=session.pk).status == S.CREATED


def test_cancel_takes_post_only(client, alice):
    session = new_session(client=alice, method="h5", external_ref="r")
    response = client.get(f"/api/v1/sessions/{session.pk}/cancel", HTTP_AUTHORIZATION=f"Bearer {alice.key}")
    assert (response.status_code, response["Allow"]) == (405, "POST")
