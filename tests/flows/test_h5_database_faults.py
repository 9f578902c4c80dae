"""An H5 start that the database fails in the middle of (PostgreSQL
restarting): the person is told 503 `service_unavailable`, and their next
try works; the billed `init` is never made twice for one attempt."""

from datetime import timedelta

import pytest
import requests
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from tests.support.factories import new_session
from verification.models import VendorCall, VerificationSession
from verification.services import hosted, vendor_calls
from verification.vendors import jumdata

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def inits(monkeypatch):
    """Every `init` made at the vendor (billed), counted where it is sent."""
    made = []
    original = jumdata.JumdataClient.init

    def counted(self, **kwargs):
        made.append(kwargs)
        return original(self, **kwargs)

    monkeypatch.setattr(jumdata.JumdataClient, "init", counted)
    return made


def fails(monkeypatch, owner, name, *, times=1, error=OperationalError):
    """`owner.name` raises `error` (the database went away) its first
    `times` calls, then works again."""
    original = getattr(owner, name)
    left = [times]

    def failing(*args, **kwargs):
        if left[0]:
            left[0] -= 1
            raise error("server closed the connection unexpectedly")
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, failing)


def consented(client):
    session = new_session(method="h5", external_ref="r")
    client.post(f"/v/{session.link_token}/consent")
    return session


def start(client, session):
    return client.post(f"/v/{session.link_token}/h5/start")


def assert_told_to_retry(response):
    assert response.status_code == 503
    # (in zh-hans, the pages' language when the browser names none)
    assert "服务暂时不可用，请稍后重试。" in response.content.decode()


def passes_and_returns(client, session, vendor_page):
    base, token = vendor_page.split("/lifecheck/h5/v2/html?token=")
    requests.post(f"{base}/h5/finish", data={"token": token, "outcome": "pass"}, allow_redirects=False)
    client.get(f"/v/{session.link_token}/h5/return")
    session.refresh_from_db()
    return session


def test_the_claim_of_the_attempt_failing_begins_nothing_and_the_retry_starts(sandbox, client, inits, monkeypatch):
    session = consented(client)
    fails(monkeypatch, VerificationSession, "claim_attempt", error=InterfaceError)

    assert_told_to_retry(start(client, session))
    session.refresh_from_db()
    assert (session.status, session.attempts_used, len(inits)) == ("created", 0, 0)

    vendor_page = start(client, session)["Location"]
    assert "/lifecheck/h5/v2/html?token=" in vendor_page
    assert passes_and_returns(client, session, vendor_page).status == "passed"
    assert len(inits) == 1


def test_the_token_not_kept_after_a_billed_init_is_kept_for_the_retry_without_a_second_init(
    sandbox, client, inits, monkeypatch
):
    session = consented(client)
    fails(monkeypatch, VerificationSession, "start_hosted_check")

    assert_told_to_retry(start(client, session))
    assert len(inits) == 1

    vendor_page = start(client, session)["Location"]
    session.refresh_from_db()
    assert vendor_page.endswith(f"token={session.vendor_token}")
    assert (len(inits), session.attempts_used) == (1, 1)
    assert passes_and_returns(client, session, vendor_page).status == "passed"
    assert len(inits) == 1


def test_the_init_call_not_recorded_still_keeps_its_token_for_the_retry(sandbox, client, inits, monkeypatch):
    session = consented(client)
    monkeypatch.setattr(vendor_calls, "RECORD_FOR_SECONDS", -1)  # the record gives up at once
    fails(monkeypatch, VendorCall.objects, "create")

    assert_told_to_retry(start(client, session))

    vendor_page = start(client, session)["Location"]
    session.refresh_from_db()
    assert vendor_page.endswith(f"token={session.vendor_token}")
    assert (len(inits), session.attempts_used) == (1, 1)
    # …and the call's record, refused at first, was kept by the rescue.
    assert VendorCall.objects.get(endpoint="init").billed is True


def test_the_polling_chain_not_queued_is_queued_by_the_rescue(sandbox, client, inits, monkeypatch):
    from django_tasks_db.models import DBTaskResult

    session = consented(client)
    fails(monkeypatch, hosted, "_enqueue_poll")

    assert_told_to_retry(start(client, session))
    assert DBTaskResult.objects.filter(task_path=hosted.collect_hosted_result.module_path).count() == 1

    vendor_page = start(client, session)["Location"]
    session.refresh_from_db()
    assert vendor_page.endswith(f"token={session.vendor_token}") and len(inits) == 1


def test_a_database_away_longer_than_the_rescue_is_settled_by_the_next_try_once_the_lease_lapsed(
    sandbox, client, inits, monkeypatch
):
    session = consented(client)
    monkeypatch.setattr(hosted, "RESCUE_FOR_SECONDS", -1)
    fails(monkeypatch, VerificationSession, "start_hosted_check", times=2)  # the request's write and the rescue's

    assert_told_to_retry(start(client, session))
    session.refresh_from_db()
    assert (session.status, session.vendor_token, session.attempts_used) == ("in_progress", "", 1)

    # While the lost start's lease runs, it might still be going on elsewhere.
    assert start(client, session).status_code == 409
    VerificationSession.objects.filter(pk=session.pk).update(vendor_busy_until=timezone.now() - timedelta(seconds=1))

    vendor_page = start(client, session)["Location"]
    session.refresh_from_db()
    # The lost attempt's init was billed: it counts, and is never made again;
    # the retry is a new attempt with an init of its own.
    assert (session.attempts_used, len(inits)) == (2, 2)
    assert vendor_page.endswith(f"token={session.vendor_token}")
    assert passes_and_returns(client, session, vendor_page).status == "passed"


def lost_start(session, *, calls=()):
    """The state a start killed after the claim leaves: in progress, no
    vendor token, a lapsed lease."""
    began = timezone.now() - timedelta(seconds=hosted.VENDOR_LEASE_SECONDS + 5)
    VerificationSession.objects.filter(pk=session.pk).update(
        status="in_progress", attempts_used=1, vendor_token="",
        vendor_busy_until=began + timedelta(seconds=hosted.VENDOR_LEASE_SECONDS),
    )
    for billed in calls:
        VendorCall.objects.create(session=session, vendor="jumdata", endpoint="init", billed=billed)
        VendorCall.objects.filter(session=session).update(created_at=began + timedelta(seconds=1))


def test_a_lost_start_with_no_record_of_its_call_counts_and_a_fresh_attempt_begins(sandbox, client, inits):
    session = consented(client)
    lost_start(session)

    vendor_page = start(client, session)["Location"]

    session.refresh_from_db()
    assert "/lifecheck/h5/v2/html?token=" in vendor_page
    assert (session.status, session.attempts_used, len(inits)) == ("in_progress", 2, 1)


def test_a_lost_start_whose_call_was_not_billed_is_given_back(sandbox, client, inits):
    session = consented(client)
    lost_start(session, calls=[False])

    start(client, session)

    session.refresh_from_db()
    assert (session.status, session.attempts_used, len(inits)) == ("in_progress", 1, 1)


def test_an_unfinished_start_still_holding_its_lease_is_left_alone(sandbox, client, inits):
    session = consented(client)
    VerificationSession.objects.filter(pk=session.pk).update(
        status="in_progress", attempts_used=1, vendor_token="",
        vendor_busy_until=timezone.now() + timedelta(seconds=30),
    )

    assert start(client, session).status_code == 409
    assert len(inits) == 0


def test_the_page_of_a_lost_start_offers_to_continue_and_that_starts(sandbox, client, inits):
    session = consented(client)
    lost_start(session)

    page = client.get(f"/v/{session.link_token}/").content.decode()
    assert 'id="continue-button"' in page

    assert "/lifecheck/h5/v2/html?token=" in start(client, session)["Location"]
    assert len(inits) == 1


def test_the_answer_to_the_failing_start_is_in_the_persons_language(sandbox, client, inits, monkeypatch):
    session = consented(client)
    VerificationSession.objects.filter(pk=session.pk).update(locale="en")
    fails(monkeypatch, VerificationSession, "start_hosted_check")

    response = start(client, session)

    assert response.status_code == 503
    assert "The service is briefly unavailable. Please try again in a moment." in response.content.decode()
