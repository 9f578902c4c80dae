"""Expired links: pages show them expired without writing; a periodic sweep
(and any POST step) records the expiry and tells the integrator."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.conftest import run_due_tasks
from tests.support.factories import new_session
from verification.models import ApiClient, VerificationSession, WebhookMessage
from verification.services import messages, sessions
from verification.services.sessions import expire_links

pytestmark = pytest.mark.django_db

S = VerificationSession.Status


@pytest.fixture
def hooked(db):
    """An integrator with a webhook URL (nothing is delivered in these tests)."""
    client, _key = ApiClient.issue(name="hooked", webhook_url="https://hooks.shop.example/kyc")
    return client


def session_of(client, *, expired=True, **fields):
    expires_at = timezone.now() + (timedelta(minutes=-1) if expired else timedelta(hours=1))
    return new_session(
        **{"client": client, "method": "tencent_lip", "external_ref": "r", "expires_at": expires_at, **fields}
    )


def completed_webhooks(session):
    return list(
        WebhookMessage.objects.filter(session=session, event_type="session.completed")
        .values_list("payload__data__status", "payload__data__reason")
    )


def test_a_page_shows_an_expired_link_as_expired_before_anything_recorded_it(client, hooked):
    session = session_of(hooked, consent_at=timezone.now())

    page = client.get(f"/v/{session.link_token}/")
    status = client.get(f"/v/{session.link_token}/status").json()

    assert page.status_code == 410 and "expired" in page.text
    assert status == {
        "status": "expired", "message": str(messages.GENERIC_MESSAGES["link_expired"]), "retry_allowed": False,
        "opened_elsewhere": False,
        "vendor_up": True,
    }
    session.refresh_from_db()
    assert session.status == S.CREATED and not WebhookMessage.objects.exists()


def test_the_sweep_records_each_expiry_once_with_its_webhook(hooked):
    created = session_of(hooked)
    challenged = session_of(hooked, status=S.IN_PROGRESS, attempts_used=1, challenge_kind="lip_code",
                            challenge_value="1234")
    untouched = {
        "not yet expired": session_of(hooked, expired=False),
        "being checked": session_of(hooked, status=S.PROCESSING, attempts_used=1),
        "passed": session_of(hooked, status=S.PASSED, passed=True, attempts_used=1),
        # an H5 attempt whose vendor token lives: its polling chain records the billed outcome
        "h5 at the vendor": session_of(hooked, method="h5", status=S.IN_PROGRESS, attempts_used=1,
                                       vendor_token="tok", vendor_token_expires_at=timezone.now() + timedelta(minutes=5)),
    }

    assert sessions.sessions_expire_links() == 2
    assert sessions.sessions_expire_links() == 0

    for session in (created, challenged):
        session.refresh_from_db()
        assert (session.status, session.reason, session.retry_allowed) == (S.EXPIRED, "link_expired", False)
        assert completed_webhooks(session) == [("expired", "link_expired")]
    for name, session in untouched.items():
        before = session.status
        session.refresh_from_db()
        assert session.status == before and not completed_webhooks(session), name


def test_the_sweep_leaves_a_session_another_process_just_moved_on(hooked):
    session = session_of(hooked, status=S.IN_PROGRESS, attempts_used=1, challenge_kind="none")
    # The person's upload lands between the sweep's read and its write.
    VerificationSession.objects.filter(pk=session.pk).update(status=S.PROCESSING)

    assert sessions.session_expire_link(session=session) is False

    session.refresh_from_db()
    assert session.status == S.PROCESSING and not WebhookMessage.objects.exists()


def test_a_post_step_after_the_expiry_records_it_at_once(client, hooked):
    session = session_of(hooked)

    response = client.post(f"/v/{session.link_token}/consent")

    assert response.status_code == 410
    session.refresh_from_db()
    assert session.status == S.EXPIRED and completed_webhooks(session) == [("expired", "link_expired")]


@pytest.mark.django_db(transaction=True)
def test_the_worker_sweeps_and_queues_the_next_sweep(settings):
    settings.KYC_EXPIRY_SWEEP_MINUTES = 5
    session = session_of(None)
    assert sessions.schedule_expiry_sweep() is True
    DBTaskResult.objects.update(run_after=timezone.now())

    run_due_tasks()

    session.refresh_from_db()
    assert session.status == S.EXPIRED
    (next_sweep,) = DBTaskResult.objects.filter(task_path=expire_links.module_path, status="READY")
    assert timedelta(minutes=4) < next_sweep.run_after - timezone.now() <= timedelta(minutes=5)


def test_deployment_queues_one_sweep(capsys):
    call_command("expire_links", "--schedule")
    call_command("expire_links", "--schedule")

    out = capsys.readouterr().out
    assert "Expiry sweep task queued." in out and "Expiry sweep task already queued." in out
    assert DBTaskResult.objects.filter(task_path=expire_links.module_path, status="READY").count() == 1
