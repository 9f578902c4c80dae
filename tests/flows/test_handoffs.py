"""Continuing on a phone: the short link behind the QR code, what opening
it does, and how the first device learns of it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.support.policy import csp
from tests.support.factories import new_session
from verification.models import Handoff, VerificationSession
from verification.services.handoffs import session_hand_off

pytestmark = pytest.mark.django_db

S = VerificationSession.Status


def session_of(client, **kwargs):
    return new_session(
        **{"client": client, "method": "tencent_lip", "external_ref": "order-42", "max_attempts": 3, **kwargs}
    )


def test_the_desktop_gets_a_short_link_and_its_qr_code(client, alice, settings):
    session = session_of(alice)

    response = client.post(f"/v/{session.link_token}/handoff")

    assert response.status_code == 201
    body = response.json()
    handoff = Handoff.objects.get(session=session)
    assert body["url"] == f"{settings.SITE_URL}/h/{handoff.code}"
    assert len(handoff.code) == 12 and set(handoff.code) <= set(Handoff.ALPHABET)
    assert session.link_token not in body["url"]
    assert body["qr_code"].startswith("data:image/svg+xml")
    assert timedelta(minutes=29) < handoff.expires_at - timezone.now() <= timedelta(minutes=30)


def test_asking_again_gives_the_same_link_while_it_has_time_left(client, alice):
    session = session_of(alice)

    first = client.post(f"/v/{session.link_token}/handoff").json()["url"]
    second = client.post(f"/v/{session.link_token}/handoff").json()["url"]

    assert first == second and Handoff.objects.count() == 1


def test_a_link_close_to_its_end_is_replaced(alice):
    session = session_of(alice)
    old = session_hand_off(session=session)
    Handoff.objects.filter(pk=old.pk).update(expires_at=timezone.now() + timedelta(minutes=5))

    assert session_hand_off(session=session).code != old.code


def test_the_phone_opens_the_same_session_and_the_desktop_sees_it(client, alice):
    session = session_of(alice)
    handoff = session_hand_off(session=session)
    assert client.get(f"/v/{session.link_token}/status").json()["opened_elsewhere"] is False

    response = client.get(f"/h/{handoff.code.upper()}")

    assert response.status_code == 302
    assert response["Location"] == f"/v/{session.link_token}/?via=handoff"
    assert client.get(f"/v/{session.link_token}/status").json()["opened_elsewhere"] is True


def test_the_first_opening_is_the_one_kept(client, alice):
    session = session_of(alice)
    handoff = session_hand_off(session=session)
    client.get(f"/h/{handoff.code}")
    first = Handoff.objects.get().opened_at

    client.get(f"/h/{handoff.code}")

    assert Handoff.objects.get().opened_at == first


def test_an_expired_link_explains_how_to_get_a_new_one(client, alice):
    session = session_of(alice)
    handoff = session_hand_off(session=session)
    Handoff.objects.filter(pk=handoff.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = client.get(f"/h/{handoff.code}")

    assert response.status_code == 410
    assert "Continue on your phone" in response.text or "继续" in response.text
    assert Handoff.objects.get().opened_at is None


def test_an_unknown_code_is_a_404(client, db):
    response = client.get("/h/abcdefghjkmn")

    assert response.status_code == 404
    assert csp(response)["frame-ancestors"] == ["'none'"]


def test_a_finished_session_cannot_be_handed_off(client, alice):
    session = session_of(alice, status=S.PASSED, passed=True, reason="passed", attempts_used=1)

    response = client.post(f"/v/{session.link_token}/handoff")

    assert response.status_code == 409 and response.json()["error"]["code"] == "finished"
    assert not Handoff.objects.exists()


def test_a_failed_attempt_with_a_retry_left_can_be_handed_off(client, alice):
    session = session_of(alice, status=S.FAILED, reason="not_live", attempts_used=1, retryable=True)

    assert client.post(f"/v/{session.link_token}/handoff").status_code == 201


def test_an_expired_session_link_cannot_be_handed_off(client, alice):
    session = session_of(alice, expires_at=timezone.now() - timedelta(minutes=1))

    response = client.post(f"/v/{session.link_token}/handoff")

    assert response.status_code == 410 and not Handoff.objects.exists()


def test_the_hand_off_link_never_outlives_the_session_link(alice):
    session = session_of(alice, expires_at=timezone.now() + timedelta(minutes=12))

    handoff = session_hand_off(session=session)

    assert handoff.expires_at == session.expires_at
    assert session_hand_off(session=session) == handoff  # and is reused until then


def test_only_post_makes_a_link(client, alice):
    session = session_of(alice)

    assert client.get(f"/v/{session.link_token}/handoff").status_code == 405
    assert not Handoff.objects.exists()
