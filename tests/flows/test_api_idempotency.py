"""`Idempotency-Key` on POST /api/v1/sessions, by Stripe's rules: a retry
with the same key and body answers the first answer again for 24 hours;
another body is a 409; a request whose twin is still running is a 409
and does nothing; keys are per client, and the sweep forgets old ones."""

import json
import threading
from datetime import timedelta

import pytest
import requests
from django.db import connection
from django.utils import timezone

from verification.models import IdempotencyKey, VerificationSession
from verification.services.idempotency import idempotency_claim, idempotency_keys_purge_expired

pytestmark = pytest.mark.django_db

BODY = {"method": "h5", "external_ref": "order-1"}


def create(client, who, body=BODY, key="key-1", **extra):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {who.key}", **extra}
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post("/api/v1/sessions", data=data, content_type="application/json", **headers)


def test_a_retry_with_the_same_key_and_body_gets_the_first_answer(client, alice):
    first = create(client, alice)
    again = create(client, alice)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert VerificationSession.objects.count() == 1


def test_the_same_json_written_otherwise_is_the_same_request(client, alice):
    first = create(client, alice, '{"method": "h5", "external_ref": "order-1"}')
    again = create(client, alice, '{"external_ref":"order-1",\n "method":"h5"}')

    assert again.status_code == 201 and again.json() == first.json()
    assert VerificationSession.objects.count() == 1


def test_the_same_key_with_another_body_is_a_409(client, alice):
    create(client, alice)

    other = create(client, alice, {**BODY, "external_ref": "order-2"})

    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_conflict"
    assert VerificationSession.objects.count() == 1


def test_a_refused_request_is_answered_the_same_again(client, alice):
    first = create(client, alice, {"method": "nope", "external_ref": "r"})
    again = create(client, alice, {"method": "nope", "external_ref": "r"})

    assert (first.status_code, again.status_code) == (400, 400)
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"


def test_a_rate_limited_request_leaves_the_key_free_for_its_retry(client, alice, settings):
    settings.KYC_RATE_API_SESSIONS = "1/60"
    create(client, alice, key="other")

    limited = create(client, alice)
    assert limited.status_code == 429

    settings.KYC_RATE_API_SESSIONS = "10/60"
    assert create(client, alice).status_code == 201


def test_while_the_first_request_runs_its_twin_does_nothing(client, alice):
    # The first request has claimed the key and is still creating its session.
    IdempotencyKey.objects.create(client=alice, key="key-1", request_hash=_fingerprint(BODY))

    twin = create(client, alice)

    assert twin.status_code == 409
    assert twin.json()["error"]["code"] == "idempotency_in_progress"
    assert VerificationSession.objects.count() == 0


def test_two_requests_racing_for_one_key_one_claims_it(alice, monkeypatch):
    """The second finds no row, tries to insert, and loses to the unique
    constraint: it reads the winner's row instead of creating a second."""
    fingerprint = _fingerprint(BODY)
    winner = idempotency_claim(client=alice, key="k", fingerprint=fingerprint)
    real_filter = IdempotencyKey.objects.filter
    calls = []

    def first_read_misses(*args, **kwargs):
        calls.append(1)
        found = real_filter(*args, **kwargs)
        return found.none() if len(calls) == 1 else found

    monkeypatch.setattr(IdempotencyKey.objects, "filter", first_read_misses)
    from verification.domain.errors import IdempotencyConflict

    with pytest.raises(IdempotencyConflict) as raced:
        idempotency_claim(client=alice, key="k", fingerprint=fingerprint)

    assert raced.value.code == "idempotency_in_progress"
    assert not winner.replay and IdempotencyKey.objects.count() == 1


def test_keys_are_per_client(client, alice, charlie):
    mine = create(client, alice)
    theirs = create(client, charlie)

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]


def test_after_24_hours_a_key_is_new_again_and_the_sweep_forgets_it(client, alice):
    first = create(client, alice)
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=24, seconds=1))

    later = create(client, alice)

    assert later.status_code == 201 and later.json()["id"] != first.json()["id"]
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    assert idempotency_keys_purge_expired() == 1
    assert not IdempotencyKey.objects.exists()


@pytest.mark.parametrize("key", ["", "x" * 256, "ключ", "a\tb"])
def test_a_key_that_is_not_printable_ascii_up_to_255_is_a_400(client, alice, key):
    response = create(client, alice, key=key)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["fields"]
    assert VerificationSession.objects.count() == 0


def test_without_a_key_every_post_creates(client, alice):
    create(client, alice, key=None)
    create(client, alice, key=None)
    assert VerificationSession.objects.count() == 2


def _fingerprint(body) -> str:
    from verification.services.idempotency import request_fingerprint

    return request_fingerprint(method="POST", path="/api/v1/sessions", body=json.dumps(body).encode())


# The test database on SQLite is in memory with a shared cache, whose table
# locks fail at once instead of waiting: parallel writers need PostgreSQL.
@pytest.mark.skipif(connection.vendor != "postgresql", reason="parallel writers need a server database")
@pytest.mark.django_db(transaction=True)
def test_eight_parallel_posts_with_one_key_make_one_session(live_server, alice):
    answers, ready = [], threading.Barrier(8)

    def post():
        ready.wait()
        response = requests.post(f"{live_server.url}/api/v1/sessions", data=json.dumps(BODY), timeout=30, headers={
            "Authorization": f"Bearer {alice.key}", "Content-Type": "application/json", "Idempotency-Key": "same"})
        answers.append((response.status_code, response.json()))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    (session,) = VerificationSession.objects.all()
    created = [body for status, body in answers if status == 201]
    waiting = [body for status, body in answers if status == 409]
    assert created and len(created) + len(waiting) == 8
    assert {body["id"] for body in created} == {str(session.pk)}
    assert {body["error"]["code"] for body in waiting} <= {"idempotency_in_progress"}
