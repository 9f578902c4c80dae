"""Page loads (GETs) of the end-user flow: they show what is known, change
nothing, and start no billed vendor call — except the one result fetch the
vendor's own return redirect may trigger, once per visit to its page."""

import json
import threading
from datetime import timedelta

import pytest
import requests
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.conftest import run_due_tasks
from tests.support.factories import new_session
from tests.flows.test_views import consented_session, finish_on_sandbox, path_of, result_calls, start
from verification.models import Handoff, VendorCall, VerificationSession
from verification.services.hosted import collect_hosted_result

S = VerificationSession.Status


def chain_wake_ups(session):
    """Queued wake-ups of the session's result polling, as (due, is the chain's next link)."""
    session.refresh_from_db()
    wake_ups = DBTaskResult.objects.filter(task_path=collect_hosted_result.module_path, status="READY")
    return sorted(
        (args[3], args[3] == session.result_poll_due_at.isoformat())
        for args in (task.args_kwargs["args"] for task in wake_ups)
        if args[0] == str(session.pk)
    )


def abandoned_on_the_vendor_page(client):
    """An H5 attempt whose person left the vendor's page unfinished: `result` answers 201."""
    session = consented_session(client)
    return_url = path_of(finish_on_sandbox(start(client, session), "abandon"))
    return session, return_url


# --- the H5 return page: one fetch, one chain -------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_ten_reloads_of_the_return_page_make_one_result_call_and_one_polling_chain(sandbox, client):
    session, return_url = abandoned_on_the_vendor_page(client)

    for _ in range(10):
        assert client.get(return_url)["Location"] == f"/v/{session.link_token}/?after=h5_return"

    assert result_calls(session) == 1
    session.refresh_from_db()
    assert (session.status, session.reason) == (S.PROCESSING, "awaiting_result")
    # The quick poll is the chain's next link; the reconciliation queued at
    # init was superseded by the return and wakes up to nothing.
    (next_link, is_next), (superseded, was_next) = chain_wake_ups(session)
    assert is_next and not was_next and next_link < superseded
    for polled in range(1, 4):
        DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
        run_due_tasks()
        assert result_calls(session) == 1 + polled, "one chain: one call per round, whatever woke up"
        assert [is_next for _due, is_next in chain_wake_ups(session)] == [True]
    assert "processing" in client.get(f"/v/{session.link_token}/").text  # the page only shows it


# The test database on SQLite is in memory with a shared cache, whose table
# locks fail at once instead of waiting (the file database of `make run` waits).
@pytest.mark.skipif(connection.vendor != "postgresql", reason="parallel writers need a server database")
@pytest.mark.django_db(transaction=True)
def test_five_parallel_loads_of_the_return_page_make_one_call(sandbox, client, settings):
    settings.SANDBOX_LATENCY_SECONDS = 0.5  # the vendor is far away: the first fetch is still in flight
    session, return_url = abandoned_on_the_vendor_page(client)
    answers, ready = [], threading.Barrier(5)

    def load():
        ready.wait()
        answers.append(requests.get(f"{sandbox.url}{return_url}", allow_redirects=False, timeout=30).status_code)

    threads = [threading.Thread(target=load) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers == [302] * 5
    assert result_calls(session) == 1
    assert [is_next for _due, is_next in chain_wake_ups(session)] == [True, False]  # the quick poll, the superseded
    assert session.status == S.PROCESSING


@pytest.mark.django_db(transaction=True)
def test_a_reload_while_the_reconciliation_is_fetching_calls_nobody(sandbox, client):
    session = consented_session(client)
    start(client, session)
    session.refresh_from_db()
    VerificationSession.objects.filter(pk=session.pk).update(vendor_busy_until=timezone.now() + timedelta(seconds=30))

    client.get(f"/v/{session.link_token}/h5/return")

    assert result_calls(session) == 0


@pytest.mark.django_db(transaction=True)
def test_going_back_to_the_vendor_page_lets_the_next_return_ask_once_more(client, jumdata_double):
    answers = iter([{"code": 201, "charge": False}, {"code": 200, "charge": True, "taskNo": "1", "data": {}}])

    def respond(request):
        body = {"code": 200, "charge": True, "data": {"token": "t"}} if request.path.endswith("/init") else next(answers)
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    jumdata_double.respond = respond
    session = consented_session(client)
    start(client, session)
    client.get(f"/v/{session.link_token}/h5/return")  # back without finishing: 201
    client.get(f"/v/{session.link_token}/h5/return")
    assert result_calls(session) == 1

    start(client, session)  # "Continue the check": the same token, no new init
    client.get(f"/v/{session.link_token}/h5/return")  # finished this time
    client.get(f"/v/{session.link_token}/h5/return")

    session.refresh_from_db()
    assert (session.status, result_calls(session)) == (S.PASSED, 2)
    assert [r.path.rsplit("/", 1)[1] for r in jumdata_double.requests] == ["init", "result", "result"]


# --- the challenge: read with GET, issued with POST -----------------------------------------


@pytest.mark.django_db(transaction=True)
def test_reading_the_challenge_never_starts_an_attempt_nor_calls_a_vendor(sandbox, client):
    session = new_session(method="tencent_lip", external_ref="r")
    client.post(f"/v/{session.link_token}/consent")

    for _ in range(3):
        none_yet = client.get(f"/v/{session.link_token}/challenge")
        assert none_yet.status_code == 409 and none_yet.json()["error"]["code"] == "no_challenge"
    session.refresh_from_db()
    assert (session.status, session.attempts_used, VendorCall.objects.count()) == (S.CREATED, 0, 0)

    issued = client.post(f"/v/{session.link_token}/challenge")
    assert issued.status_code == 200 and issued.json()["kind"] == "lip_code"
    assert client.get(f"/v/{session.link_token}/challenge").json() == issued.json()
    assert VendorCall.objects.filter(endpoint="livegetfour").count() == 1


@pytest.mark.django_db
def test_reading_the_challenge_after_a_failed_attempt_starts_no_new_one(client):
    session = new_session(
        method="juhe_video", external_ref="r", consent_at=timezone.now(), status=S.FAILED, retryable=True,
        attempts_used=1, challenge_kind="digits", challenge_value="1234",
    )

    response = client.get(f"/v/{session.link_token}/challenge")

    assert response.status_code == 409 and response.json()["error"]["code"] == "no_challenge"
    session.refresh_from_db()
    assert (session.status, session.attempts_used) == (S.FAILED, 1)


# --- every GET, in every state, leaves the database as it was ------------------------------


def now_plus(**delta):
    return timezone.now() + timedelta(**delta)


CONSENTED = {"consent_at": timezone.now, "consent_version": "v1"}
STATES = {
    "h5, new": {"method": "h5"},
    "h5, consented": {"method": "h5", **CONSENTED},
    "h5, result pending (after its first return)": {
        "method": "h5", **CONSENTED, "status": S.PROCESSING, "attempts_used": 1, "vendor_token": "tok",
        "vendor_token_expires_at": lambda: now_plus(minutes=8), "result_poll_due_at": lambda: now_plus(seconds=4),
        "reason": "awaiting_result",
    },
    "h5, link expired mid-attempt (token dead)": {
        "method": "h5", **CONSENTED, "status": S.IN_PROGRESS, "attempts_used": 1, "vendor_token": "tok",
        "vendor_token_expires_at": lambda: now_plus(minutes=-2), "expires_at": lambda: now_plus(minutes=-1),
    },
    "recorded, new": {"method": "tencent_lip"},
    "recorded, consented": {"method": "tencent_lip", **CONSENTED},
    "recorded, challenge issued": {
        "method": "tencent_lip", **CONSENTED, "status": S.IN_PROGRESS, "attempts_used": 1,
        "challenge_kind": "lip_code", "challenge_value": "4821",
    },
    "recorded, being checked": {
        "method": "juhe_video", **CONSENTED, "status": S.PROCESSING, "attempts_used": 1, "challenge_kind": "none",
    },
    "passed": {"method": "tencent_photo", **CONSENTED, "status": S.PASSED, "passed": True, "attempts_used": 1},
    "failed, may retry": {
        "method": "tencent_lip", **CONSENTED, "status": S.FAILED, "retryable": True, "attempts_used": 1,
        "reason": "not_live",
    },
    "link expired before any attempt": {"method": "tencent_lip", **CONSENTED, "expires_at": lambda: now_plus(hours=-1)},
    "link expired with a challenge out": {
        "method": "tencent_lip", **CONSENTED, "status": S.IN_PROGRESS, "attempts_used": 1,
        "challenge_kind": "lip_code", "challenge_value": "4821", "expires_at": lambda: now_plus(seconds=-1),
    },
}
ROUTES = {
    "entry": "/v/{token}/",
    "status": "/v/{token}/status",
    "challenge": "/v/{token}/challenge",
    "h5 return": "/v/{token}/h5/return",
    "hand-off link, opened again": "/h/{code}",
    "entry after a hand-off": "/v/{token}/?via=handoff&after=consent",
}


def database_rows():
    """Every row of every table (the cache's rate-limit counters aside)."""
    tables = [t for t in connection.introspection.table_names() if t != "kyc_cache"]
    with connection.cursor() as cursor:
        rows = {}
        for table in tables:
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            rows[table] = sorted(map(repr, cursor.fetchall()))
    return rows


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("state", STATES)
def test_no_end_user_get_changes_the_database(client, settings, state, route):
    for name in ("JUMDATA_BASE_URL", "TENCENT_BASE_URL", "JUHE_BASE_URL"):
        setattr(settings, name, "http://127.0.0.1:9")  # a call would leave a VendorCall row
    fields = {k: v() if callable(v) else v for k, v in STATES[state].items()}
    session = new_session(external_ref="r", **fields)
    handoff = Handoff.objects.create(session=session, code=Handoff.new_code(), expires_at=now_plus(minutes=20),
                                     opened_at=now_plus(minutes=-1))
    before = database_rows()

    response = client.get(ROUTES[route].format(token=session.link_token, code=handoff.code))

    assert response.status_code < 500
    assert database_rows() == before


@pytest.mark.django_db
def test_the_first_opening_of_a_hand_off_link_is_its_one_mark(client):
    session = new_session(method="tencent_lip", external_ref="r")
    handoff = Handoff.objects.create(session=session, code=Handoff.new_code(), expires_at=now_plus(minutes=20))
    before = database_rows()

    client.get(f"/h/{handoff.code}")

    after = database_rows()
    assert [table for table in before if before[table] != after[table]] == [Handoff._meta.db_table]
    handoff.refresh_from_db()
    assert handoff.opened_at is not None
    client.get(f"/h/{handoff.code}")
    assert database_rows() == after
