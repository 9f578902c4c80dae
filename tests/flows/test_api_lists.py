"""GET /api/v1/sessions and GET /api/v1/events: one client's own, newest
first, in cursor pages that stay put while new sessions arrive, with
filters that refuse what they cannot read."""

import json
import threading
from datetime import timedelta

import pytest
import requests
from django.db import connection
from django.utils import timezone

from tests.support.factories import new_session
from verification.models import VerificationSession, WebhookMessage
from verification.services.webhooks import webhook_enqueue

pytestmark = pytest.mark.django_db

S = VerificationSession.Status


def get(client, who, path, **params):
    return client.get(path, params, HTTP_AUTHORIZATION=f"Bearer {who.key}")


def sessions_at(client_, *refs, start=None, **fields):
    """Sessions created one second apart, oldest first."""
    start = start or timezone.now() - timedelta(hours=1)
    made = []
    for n, ref in enumerate(refs):
        session = new_session(client=client_, method="h5", external_ref=ref, **fields)
        VerificationSession.objects.filter(pk=session.pk).update(created_at=start + timedelta(seconds=n))
        made.append(session)
    return made


def refs(response):
    return [item["external_ref"] for item in response.json()["data"]]


def test_alice_lists_her_sessions_newest_first_and_charlie_sees_none(client, alice, charlie):
    sessions_at(alice, "a", "b", "c")

    mine, theirs = get(client, alice, "/api/v1/sessions"), get(client, charlie, "/api/v1/sessions")

    assert refs(mine) == ["c", "b", "a"]
    assert mine.json()["has_more"] is False and mine.json()["next_cursor"] is None
    assert theirs.json() == {"data": [], "has_more": False, "next_cursor": None}


def test_pages_follow_each_other_without_gaps_or_repeats(client, alice):
    sessions_at(alice, *"abcde")

    first = get(client, alice, "/api/v1/sessions", limit=2)
    second = get(client, alice, "/api/v1/sessions", limit=2, cursor=first.json()["next_cursor"])
    third = get(client, alice, "/api/v1/sessions", limit=2, cursor=second.json()["next_cursor"])

    assert (refs(first), refs(second), refs(third)) == (["e", "d"], ["c", "b"], ["a"])
    assert first.json()["has_more"] and second.json()["has_more"] and not third.json()["has_more"]


def test_a_page_boundary_holds_while_sessions_are_being_created(client, alice):
    """New sessions are newer than any cursor: they never push an item of
    the next page onto the one already read, nor appear twice. Sessions
    created in the same instant as the boundary are ordered by id."""
    moment = timezone.now() - timedelta(minutes=5)
    older = sessions_at(alice, "o1", "o2", "o3", start=moment - timedelta(minutes=1))
    same_instant = sessions_at(alice, "t1", "t2", "t3", "t4", start=moment)
    VerificationSession.objects.filter(pk__in=[s.pk for s in same_instant]).update(created_at=moment)
    before = {s.external_ref for s in older + same_instant}

    seen, cursor = [], None
    for page in range(10):
        params = {"limit": 2} if cursor is None else {"limit": 2, "cursor": cursor}
        answer = get(client, alice, "/api/v1/sessions", **params).json()
        seen += [item["external_ref"] for item in answer["data"]]
        # Meanwhile the integrator's other requests create sessions, some through the API.
        client.post("/api/v1/sessions", {"method": "h5", "external_ref": f"new{page}"},
                    content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {alice.key}")
        new_session(client=alice, method="h5", external_ref=f"other{page}")
        cursor = answer["next_cursor"]
        if not answer["has_more"]:
            break

    assert len(seen) == len(set(seen)) == len(before)
    assert set(seen) == before
    assert seen[-3:] == ["o3", "o2", "o1"]


@pytest.mark.parametrize("params, expected", [
    ({"external_ref": "b"}, ["b"]),
    ({"status": "passed"}, ["c"]),
    ({"review_status": "approved"}, ["a"]),
    ({"status": "passed", "review_status": "approved"}, []),
])
def test_filters_pick_sessions(client, alice, params, expected):
    a, b, c = sessions_at(alice, "a", "b", "c")
    VerificationSession.objects.filter(pk=a.pk).update(review_status="approved")
    VerificationSession.objects.filter(pk=c.pk).update(status=S.PASSED)

    assert refs(get(client, alice, "/api/v1/sessions", **params)) == expected


def test_created_after_and_before_bound_the_creation_time(client, alice):
    start = timezone.now().replace(microsecond=0) - timedelta(hours=1)
    sessions_at(alice, "a", "b", "c", "d", start=start)

    answer = get(client, alice, "/api/v1/sessions", created_after=(start + timedelta(seconds=1)).isoformat(),
                 created_before=(start + timedelta(seconds=3)).isoformat().replace("+00:00", "Z"))

    assert refs(answer) == ["c", "b"]


def _cursor(value) -> str:
    import base64

    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


@pytest.mark.parametrize("params, field", [
    ({"status": "done"}, "status"),
    ({"review_status": "maybe"}, "review_status"),
    ({"created_after": "yesterday"}, "created_after"),
    ({"created_after": "2026-05-01T00:00:00"}, "created_after"),  # no offset: which zone?
    ({"created_before": "2026-13-01T00:00:00Z"}, "created_before"),
    ({"limit": "0"}, "limit"),
    ({"limit": "101"}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
    ({"cursor": "!!"}, "cursor"),
    ({"cursor": _cursor(["2026-05-01T00:00:00+00:00", 5])}, "cursor"),  # a number where the id goes
    ({"cursor": _cursor(["2026-05-01T00:00:00", "0b4e7f3c-8d6a-4f0e-9d1c-2b7e5a9f1c3d"])}, "cursor"),  # no offset
    ({"cursor": _cursor({"a": 1})}, "cursor"),
    ({"external_ref": "a\x00b"}, "external_ref"),
    ({"sort": "oldest"}, "sort"),
])
def test_a_filter_it_cannot_read_is_a_400_naming_it(client, alice, params, field):
    response = get(client, alice, "/api/v1/sessions", **params)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert field in response.json()["error"]["fields"]


# --- events ----------------------------------------------------------------------------------


@pytest.fixture
def hooked(alice):
    alice.set_webhook_url("https://shop.example/kyc-hook")
    return alice


def test_events_of_the_last_30_days_newest_first(client, hooked, charlie):
    session = new_session(client=hooked, method="h5", external_ref="r", status=S.PASSED, passed=True,
                          reason="passed", vendor_code="200")
    old = webhook_enqueue(session=session, event_type="session.completed")
    recent = webhook_enqueue(session=session, event_type="session.reviewed")
    ancient = webhook_enqueue(session=session, event_type="session.reviewed")
    WebhookMessage.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=29))
    WebhookMessage.objects.filter(pk=ancient.pk).update(created_at=timezone.now() - timedelta(days=31))

    answer = get(client, hooked, "/api/v1/events").json()

    assert [e["id"] for e in answer["data"]] == [recent.msg_id, old.msg_id]
    event = answer["data"][1]
    assert (event["type"], event["data"]["session_id"], event["data"]["status"]) == (
        "session.completed", str(session.pk), "passed")
    assert event["delivery"] == {"state": "pending", "attempts": 0, "delivered_at": None}
    assert get(client, charlie, "/api/v1/events").json()["data"] == []


def test_events_come_in_cursor_pages_and_filter_by_type(client, hooked):
    session = new_session(client=hooked, method="h5", external_ref="r")
    made = [webhook_enqueue(session=session, event_type=kind).msg_id
            for kind in ("session.completed", "session.reviewed", "session.reviewed")]

    first = get(client, hooked, "/api/v1/events", limit=2).json()
    rest = get(client, hooked, "/api/v1/events", limit=2, cursor=first["next_cursor"]).json()
    reviewed = get(client, hooked, "/api/v1/events", type="session.reviewed").json()

    assert [e["id"] for e in first["data"] + rest["data"]] == made[::-1]
    assert [e["id"] for e in reviewed["data"]] == made[:0:-1]
    assert get(client, hooked, "/api/v1/events", type="session.deleted").status_code == 400


@pytest.mark.skipif(connection.vendor != "postgresql", reason="parallel writers need a server database")
@pytest.mark.django_db(transaction=True)
def test_paging_over_http_while_other_requests_create_sessions(live_server, alice):
    """Four writers create sessions through the API while a reader pages
    through the list: the reader sees every session that existed when it
    began, once each, in order, and none of the writers' pushes a page."""
    before = {s.external_ref for s in sessions_at(alice, *[f"old{n:02}" for n in range(25)])}
    auth = {"Authorization": f"Bearer {alice.key}"}
    stop = threading.Event()

    def write(n):
        while not stop.is_set():
            requests.post(f"{live_server.url}/api/v1/sessions", timeout=30, headers={
                **auth, "Content-Type": "application/json"}, data=json.dumps({"method": "h5", "external_ref": f"w{n}"}))

    writers = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for writer in writers:
        writer.start()
    try:
        seen, params = [], {"limit": 3}
        while True:
            page = requests.get(f"{live_server.url}/api/v1/sessions", params=params, headers=auth, timeout=30).json()
            seen += [item for item in page["data"]]
            if not page["has_more"]:
                break
            params = {"limit": 3, "cursor": page["next_cursor"]}
    finally:
        stop.set()
        for writer in writers:
            writer.join()

    old = [item["external_ref"] for item in seen if item["external_ref"] in before]
    assert old == sorted(before, reverse=True)
    assert len({item["id"] for item in seen}) == len(seen)
    times = [item["created_at"] for item in seen]
    assert times == sorted(times, reverse=True)
