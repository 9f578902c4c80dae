"""Reconciliation: a billed Jumdata outcome is recorded even when the person
never comes back to the portal."""

from datetime import datetime, timedelta, timezone as tz

import pytest
import requests
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from verification import services
from verification.models import VendorCall, VerificationSession
from verification.tasks import collect_h5_result

pytestmark = pytest.mark.django_db(transaction=True)


def started_session(client):
    session = VerificationSession.objects.create(method="h5", external_ref="r")
    client.post(f"/v/{session.link_token}/consent")
    vendor_page = client.post(f"/v/{session.link_token}/h5/start")["Location"]
    session.refresh_from_db()
    return session, vendor_page


def press_on_sandbox(vendor_page, outcome):
    base, token = vendor_page.split("/lifecheck/h5/v2/html?token=")
    requests.post(f"{base}/h5/finish", data={"token": token, "outcome": outcome}, allow_redirects=False)


def run_due_tasks():
    call_command("db_worker", batch=True, interval=0, startup_delay=False, reload=False, verbosity=0)


def test_a_person_who_passed_and_closed_the_browser_is_recorded_as_passed(sandbox, client):
    session, vendor_page = started_session(client)
    press_on_sandbox(vendor_page, "pass")  # …and the browser is closed: no return

    DBTaskResult.objects.update(run_after=timezone.now())  # the reconciliation falls due
    run_due_tasks()

    session.refresh_from_db()
    assert (session.status, session.passed) == ("passed", True)
    assert session.face_image
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"


def test_the_task_running_twice_asks_the_vendor_once(sandbox, client):
    session, vendor_page = started_session(client)
    press_on_sandbox(vendor_page, "fail")

    collect_h5_result.call(str(session.pk), session.vendor_token, 0)
    collect_h5_result.call(str(session.pk), session.vendor_token, 0)

    session.refresh_from_db()
    assert session.status == "failed"
    assert VendorCall.objects.filter(endpoint="result").count() == 1


def test_a_task_for_an_older_attempt_does_nothing(sandbox, client):
    session, _page = started_session(client)

    collect_h5_result.call(str(session.pk), "token-of-an-earlier-attempt", 0)

    assert VendorCall.objects.filter(endpoint="result").count() == 0


def test_while_another_process_asks_the_vendor_a_second_one_waits(sandbox, client):
    session, vendor_page = started_session(client)
    press_on_sandbox(vendor_page, "pass")
    VerificationSession.objects.filter(pk=session.pk).update(vendor_busy_until=timezone.now() + timedelta(seconds=30))

    services.session_collect_h5_result(session_id=session.pk, vendor_token=session.vendor_token)

    assert VendorCall.objects.filter(endpoint="result").count() == 0


def test_an_abandoned_check_ends_expired_once_the_token_is_dead(sandbox, client, settings):
    session, vendor_page = started_session(client)
    press_on_sandbox(vendor_page, "abandon")
    collect_h5_result.call(str(session.pk), session.vendor_token, 0)  # the reconciliation: still 201
    session.refresh_from_db()
    assert session.status == "processing"
    follow_up = DBTaskResult.objects.filter(args_kwargs__args__2=1).get()
    assert follow_up.run_after <= session.vendor_token_expires_at + timedelta(seconds=30)

    settings.SANDBOX_JUMDATA_TOKEN_TTL = 0
    collect_h5_result.call(str(session.pk), session.vendor_token, 1)

    session.refresh_from_db()
    assert (session.status, session.vendor_code, session.retry_allowed) == ("expired", "301", True)


def test_a_vendor_that_never_answers_ends_in_a_retryable_error(client, settings, jumdata_double):
    jumdata_double.respond = lambda r: (
        200, {"Content-Type": "application/json"}, b'{"code": 200, "charge": true, "data": {"token": "t"}}'
    ) if r.path.endswith("/init") else (503, {}, b"")
    session, _page = started_session(client)
    VerificationSession.objects.filter(pk=session.pk).update(vendor_token_expires_at=timezone.now() - timedelta(minutes=1))

    collect_h5_result.call(str(session.pk), session.vendor_token, 3)

    session.refresh_from_db()
    assert (session.status, session.reason, session.retry_allowed) == ("error", "vendor_unavailable", True)


EXPIRES = datetime(2026, 1, 1, 12, 10, tzinfo=tz.utc)  # a token issued at 12:00


@pytest.mark.parametrize(
    "now, tries, expected",
    [
        # quick polls right after the return: 1, 2, 4, 8, 16 s
        (datetime(2026, 1, 1, 12, 1, tzinfo=tz.utc), 0, datetime(2026, 1, 1, 12, 1, 1, tzinfo=tz.utc)),
        (datetime(2026, 1, 1, 12, 1, tzinfo=tz.utc), 4, datetime(2026, 1, 1, 12, 1, 16, tzinfo=tz.utc)),
        # …then silence until the reconciliation at 12:09
        (datetime(2026, 1, 1, 12, 1, tzinfo=tz.utc), 5, None),
        # from the reconciliation on, backoff until just past the expiry
        (datetime(2026, 1, 1, 12, 9, tzinfo=tz.utc), 0, datetime(2026, 1, 1, 12, 9, 1, tzinfo=tz.utc)),
        (datetime(2026, 1, 1, 12, 9, 50, tzinfo=tz.utc), 6, datetime(2026, 1, 1, 12, 10, 20, tzinfo=tz.utc)),
        (datetime(2026, 1, 1, 12, 10, 20, tzinfo=tz.utc), 6, None),
    ],
)
def test_when_to_ask_jumdata_again(now, tries, expected, settings):
    settings.JUMDATA_RECONCILE_BEFORE_EXPIRY_SECONDS = 60
    assert services.next_h5_collection_at(now=now, token_expires_at=EXPIRES, tries=tries) == expected
