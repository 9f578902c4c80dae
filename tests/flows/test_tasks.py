"""Reconciliation: a billed Jumdata outcome is recorded even when the person
never comes back to the portal."""

import json
from datetime import datetime, timedelta
from datetime import timezone as tz

import pytest
import requests
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.conftest import run_due_tasks
from tests.support.media_samples import make_jpeg
from tests.support.factories import new_session
from verification.models import VendorCall, VerificationSession
from verification.services import hosted, outcomes
from verification.services.hosted import collect_hosted_result

pytestmark = pytest.mark.django_db(transaction=True)


def started_session(client):
    session = new_session(method="h5", external_ref="r")
    client.post(f"/v/{session.link_token}/consent")
    vendor_page = client.post(f"/v/{session.link_token}/h5/start")["Location"]
    session.refresh_from_db()
    return session, vendor_page


def queued_link(session, tries=0):
    """The arguments of the queued wake-up of the session's polling chain
    with this `tries`, as the worker would call it."""
    return DBTaskResult.objects.get(task_path=collect_hosted_result.module_path, args_kwargs__args__2=tries).args_kwargs["args"]


def press_on_sandbox(vendor_page, outcome):
    base, token = vendor_page.split("/lifecheck/h5/v2/html?token=")
    requests.post(f"{base}/h5/finish", data={"token": token, "outcome": outcome}, allow_redirects=False)


def test_a_person_who_passed_and_closed_the_browser_is_recorded_as_passed(sandbox, client):
    session, vendor_page = started_session(client)
    press_on_sandbox(vendor_page, "pass")  # …and the browser is closed: no return

    DBTaskResult.objects.update(run_after=timezone.now())  # the reconciliation falls due
    run_due_tasks()

    session.refresh_from_db()
    assert (session.status, session.passed) == ("passed", True)
    run_due_tasks()  # the face photo's download, queued by the first
    session.refresh_from_db()
    assert session.face_image
    assert list(DBTaskResult.objects.values_list("status", flat=True)) == ["SUCCESSFUL", "SUCCESSFUL"]


def test_the_task_running_twice_asks_the_vendor_once(sandbox, client):
    session, vendor_page = started_session(client)
    press_on_sandbox(vendor_page, "fail")

    link = queued_link(session)
    collect_hosted_result.call(*link)
    collect_hosted_result.call(*link)

    session.refresh_from_db()
    assert session.status == "failed"
    assert VendorCall.objects.filter(endpoint="result").count() == 1


def test_a_task_for_an_older_attempt_does_nothing(sandbox, client):
    session, _page = started_session(client)

    pk, _token, tries, due = queued_link(session)
    collect_hosted_result.call(pk, "token-of-an-earlier-attempt", tries, due)

    assert VendorCall.objects.filter(endpoint="result").count() == 0


def test_while_another_process_asks_the_vendor_a_second_one_waits(sandbox, client):
    session, vendor_page = started_session(client)
    press_on_sandbox(vendor_page, "pass")
    busy_until = timezone.now() + timedelta(seconds=30)
    VerificationSession.objects.filter(pk=session.pk).update(vendor_busy_until=busy_until)

    link = queued_link(session)
    collect_hosted_result.call(*link)

    assert VendorCall.objects.filter(endpoint="result").count() == 0
    # …and looks again once the lease has run out, should its holder die without an answer.
    again = DBTaskResult.objects.filter(task_path=collect_hosted_result.module_path).latest("enqueued_at")
    assert again.run_after == busy_until and again.args_kwargs["args"] == link


def test_an_abandoned_check_ends_expired_once_the_token_is_dead(sandbox, client, settings):
    session, vendor_page = started_session(client)
    press_on_sandbox(vendor_page, "abandon")
    collect_hosted_result.call(*queued_link(session))  # the reconciliation: still 201
    session.refresh_from_db()
    assert session.status == "processing"
    follow_up = DBTaskResult.objects.filter(args_kwargs__args__2=1).get()
    assert follow_up.run_after <= session.vendor_token_expires_at + timedelta(seconds=30)

    settings.SANDBOX_JUMDATA_TOKEN_TTL = 0
    collect_hosted_result.call(*queued_link(session, tries=1))

    session.refresh_from_db()
    assert (session.status, session.vendor_code, session.retry_allowed) == ("expired", "301", True)


def test_a_vendor_that_never_answers_ends_in_a_retryable_error(client, settings, jumdata_double):
    jumdata_double.respond = lambda r: (
        200, {"Content-Type": "application/json"}, b'{"code": 200, "charge": true, "data": {"token": "t"}}'
    ) if r.path.endswith("/init") else (503, {}, b"")
    session, _page = started_session(client)
    VerificationSession.objects.filter(pk=session.pk).update(vendor_token_expires_at=timezone.now() - timedelta(minutes=1))
    pk, token, _tries, due = queued_link(session)

    collect_hosted_result.call(pk, token, 3, due)

    session.refresh_from_db()
    assert (session.status, session.reason, session.retry_allowed) == ("error", "vendor_unavailable", True)


EXPIRES = datetime(2026, 1, 1, 12, 10, tzinfo=tz.utc)  # a token issued at 12:00


@pytest.mark.parametrize(
    "now, tries, expected",
    [
        # quick polls right after the return: 1, 2, 4, 8, 16 s
        (datetime(2026, 1, 1, 12, 1, tzinfo=tz.utc), 0, (datetime(2026, 1, 1, 12, 1, 1, tzinfo=tz.utc), 1)),
        (datetime(2026, 1, 1, 12, 1, tzinfo=tz.utc), 4, (datetime(2026, 1, 1, 12, 1, 16, tzinfo=tz.utc), 5)),
        # …then the same chain sleeps until the reconciliation at 12:09
        (datetime(2026, 1, 1, 12, 1, tzinfo=tz.utc), 5, (datetime(2026, 1, 1, 12, 9, tzinfo=tz.utc), 0)),
        # from the reconciliation on, backoff until just past the expiry
        (datetime(2026, 1, 1, 12, 9, tzinfo=tz.utc), 0, (datetime(2026, 1, 1, 12, 9, 1, tzinfo=tz.utc), 1)),
        (datetime(2026, 1, 1, 12, 9, 50, tzinfo=tz.utc), 6, (datetime(2026, 1, 1, 12, 10, 20, tzinfo=tz.utc), 7)),
        (datetime(2026, 1, 1, 12, 10, 20, tzinfo=tz.utc), 6, None),
    ],
)
def test_when_to_ask_jumdata_again(now, tries, expected, settings):
    settings.JUMDATA_RECONCILE_BEFORE_EXPIRY_SECONDS = 60
    assert hosted.next_poll(now=now, token_expires_at=EXPIRES, tries=tries) == expected


# --- the face photo of a pass, fetched by a worker ---------------------------------


def test_the_face_photos_address_is_queued_encrypted(sandbox, client):
    session, vendor_page = started_session(client)
    press_on_sandbox(vendor_page, "pass")

    client.get(f"/v/{session.link_token}/h5/return")

    queued = DBTaskResult.objects.get(task_path="verification.services.outcomes.store_face_image")
    assert "/sandbox/jumdata/face/" not in json.dumps(queued.args_kwargs)
    run_due_tasks()
    session.refresh_from_db()
    assert session.face_image.read().startswith(b"\xff\xd8\xff")


def jumdata_passing_with_a_face_at(double, face_answers):
    """Jumdata passes; its face photo URL answers `face_answers` in turn."""

    def respond(request):
        if request.path.endswith("/init"):
            return 200, {"Content-Type": "application/json"}, b'{"code": 200, "charge": true, "data": {"token": "t"}}'
        if request.path.endswith("/result"):
            body = {"code": 200, "charge": True, "taskNo": "1", "data": {"faceImageUrl": f"{double.url}/face.jpg"}}
            return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()
        return face_answers.pop(0)

    double.respond = respond


def test_a_face_photo_that_fails_to_download_is_tried_again(client, jumdata_double):
    jpeg = (200, {"Content-Type": "image/jpeg"}, make_jpeg())
    jumdata_passing_with_a_face_at(jumdata_double, [(503, {}, b""), (502, {}, b""), jpeg])
    session, _page = started_session(client)
    client.get(f"/v/{session.link_token}/h5/return")

    for _ in range(3):
        DBTaskResult.objects.update(run_after=timezone.now())  # each retry falls due
        run_due_tasks()

    session.refresh_from_db()
    assert session.face_image.read() == jpeg[2]
    assert list(VendorCall.objects.filter(endpoint="faceImage").values_list("http_status", flat=True)) == [503, 502, 200]


def test_a_face_photo_that_is_not_a_jpeg_is_not_tried_again(client, jumdata_double):
    jumdata_passing_with_a_face_at(jumdata_double, [(200, {"Content-Type": "text/html"}, b"<html>")])
    session, _page = started_session(client)
    client.get(f"/v/{session.link_token}/h5/return")

    run_due_tasks()
    DBTaskResult.objects.update(run_after=timezone.now())
    run_due_tasks()

    session.refresh_from_db()
    assert (session.status, bool(session.face_image)) == ("passed", False)
    assert VendorCall.objects.filter(endpoint="faceImage").count() == 1


def test_a_face_photo_is_given_up_after_its_tries(client, jumdata_double):
    jumdata_passing_with_a_face_at(jumdata_double, [(503, {}, b"")] * outcomes.FACE_IMAGE_TRIES)
    session, _page = started_session(client)
    client.get(f"/v/{session.link_token}/h5/return")

    for _ in range(outcomes.FACE_IMAGE_TRIES + 1):
        DBTaskResult.objects.update(run_after=timezone.now())
        run_due_tasks()

    assert VendorCall.objects.filter(endpoint="faceImage").count() == outcomes.FACE_IMAGE_TRIES
    session.refresh_from_db()
    assert session.status == "passed" and not session.face_image
