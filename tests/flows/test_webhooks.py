"""Signed webhooks to integrators (Standard Webhooks): signatures checked by
an independent implementation written here from the spec, the retry
schedule, deliveries against a misbehaving receiver, the events, the admin
resend and secret rotation.

Personas: alice integrates with a webhook URL; charlie integrates without
one and should get no webhook."""

import base64
import hashlib
import hmac
import json
import re
import socket
import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.support.http_double import HttpDouble, slow
from tests.support.factories import new_session
from verification.models.clients import new_webhook_secret
from verification.models import ApiClient, WebhookAttempt, WebhookMessage
from verification.services import review, sessions, webhooks

pytestmark = pytest.mark.django_db

IDCARD = "11010519491231002X"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the Standard Webhooks spec's example secret


# --- an independent verifier, from the Standard Webhooks spec ---------------------------


def spec_verify(secret: str, headers: dict, body: bytes, *, tolerance=300) -> bool:
    """What an integrator writes: any `v1,` signature in the header that
    matches HMAC-SHA256(base64decode(secret after whsec_), "id.ts.body")."""
    headers = {k.lower(): v for k, v in headers.items()}
    msg_id, ts = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(ts)) > tolerance:
        return False
    key = base64.b64decode(secret[len("whsec_"):])
    expected = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
    for candidate in headers["webhook-signature"].split(" "):
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return True
    return False


def test_it_signs_as_the_standard_webhooks_spec_example():
    # The example in the spec's reference libraries.
    signature = webhooks.sign(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}')
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signatures_verify_with_an_independent_implementation():
    body = '{"type":"session.completed","data":{"status":"passed"}}'
    ts = int(time.time())
    headers = webhooks.webhook_headers(secrets_=[SECRET], msg_id="msg_1", timestamp=ts, body=body)

    assert spec_verify(SECRET, headers, body.encode())
    assert not spec_verify(SECRET, headers, body.encode() + b" ")
    assert not spec_verify(new_webhook_secret(), headers, body.encode())
    assert not spec_verify(SECRET, {**headers, "webhook-id": "msg_2"}, body.encode())
    assert not spec_verify(SECRET, {**headers, "webhook-timestamp": str(ts + 1)}, body.encode())


def test_during_a_rotation_either_secret_verifies():
    old, new = SECRET, new_webhook_secret()
    body = "{}"
    headers = webhooks.webhook_headers(secrets_=[new, old], msg_id="msg_1", timestamp=int(time.time()), body=body)

    assert re.fullmatch(r"v1,\S+ v1,\S+", headers["webhook-signature"])
    assert spec_verify(new, headers, b"{}")
    assert spec_verify(old, headers, b"{}")
    assert not spec_verify(new_webhook_secret(), headers, b"{}")
    # No previous secret: one signature.
    one = webhooks.webhook_headers(secrets_=[new, ""], msg_id="msg_1", timestamp=1, body=body)
    assert " " not in one["webhook-signature"]


@pytest.mark.parametrize(
    "attempt, delay",
    [
        (0, None),
        (1, timedelta(seconds=5)),
        (2, timedelta(minutes=5)),
        (3, timedelta(minutes=30)),
        (4, timedelta(hours=2)),
        (5, timedelta(hours=5)),
        (6, timedelta(hours=10)),
        (7, timedelta(hours=10)),
        (8, None),
        (9, None),
    ],
)
def test_the_retry_schedule(attempt, delay):
    assert webhooks.next_attempt_delay(attempt) == delay


def test_retries_last_at_least_a_day_and_then_stop():
    total, attempt = timedelta(), 1
    while (delay := webhooks.next_attempt_delay(attempt)) is not None:
        total += delay
        attempt += 1
    assert total >= timedelta(hours=24)
    assert attempt == 8  # the first attempt and seven retries


# --- delivery -------------------------------------------------------------------------------


# alice's receiver, as the production rules see it: https on a host name,
# at an address the operator allowed on purpose (127.0.0.1 stands in for an
# on-premises receiver). tests/flows/test_webhook_targets.py attacks the rules.
HOOK_HOST = "hooks.shop.test"


@pytest.fixture
def receiver(fake_dns, trusted_test_ca, settings):
    settings.KYC_WEBHOOK_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1/32"]
    fake_dns.answer(HOOK_HOST, ["127.0.0.1"])
    with HttpDouble(tls=trusted_test_ca.issue_cert(HOOK_HOST), host=HOOK_HOST) as double:
        yield double


@pytest.fixture
def alice_hooked(alice, receiver):
    alice.webhook_url = f"{receiver.url}/hooks/kyc"
    alice.webhook_secret = SECRET
    alice.save()
    return alice


def finished_session(client, **fields):
    return new_session(
        client=client, method="tencent_lip", external_ref="order-42", realname="张三", idcard=IDCARD,
        status="passed", passed=True, reason="passed", vendor_code="0", completed_at=timezone.now(), **fields,
    )


def fall_due(message):
    """The time of the next attempt arrives (instead of waiting for it)."""
    WebhookMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())


def dead_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"https://{HOOK_HOST}:{port}/hooks/kyc"


def test_a_receiver_that_fails_four_times_gets_the_event_once_more(alice_hooked, receiver, monkeypatch,
                                                                   django_capture_on_commit_callbacks):
    monkeypatch.setattr(webhooks, "TIMEOUT", (3, 0.5))
    ok = lambda request: (200, {}, b"")  # noqa: E731
    answers = iter([
        lambda request: (500, {}, b"oops"),
        slow(1.5, ok),  # answers after the read timeout
        lambda request: (503, {}, b""),
        None,  # nobody listening
        ok,
    ])
    session = finished_session(alice_hooked)
    with django_capture_on_commit_callbacks(execute=True):
        message = webhooks.webhook_enqueue(session=session, event_type="session.completed")

    for attempt in range(1, 6):
        answer = next(answers)
        if answer is None:
            ApiClient.objects.filter(pk=alice_hooked.pk).update(webhook_url=dead_url())
        else:
            ApiClient.objects.filter(pk=alice_hooked.pk).update(webhook_url=f"{receiver.url}/hooks/kyc")
            receiver.respond = answer
        fall_due(message)
        with django_capture_on_commit_callbacks(execute=True):
            made = webhooks.webhook_deliver(message_id=message.pk)
        assert made.attempt == attempt

    rows = list(WebhookAttempt.objects.filter(message=message).order_by("attempt"))
    assert [(r.attempt, r.http_status) for r in rows] == [(1, 500), (2, None), (3, 503), (4, None), (5, 200)]
    assert rows[0].error == "HTTP 500" and rows[1].error == "timeout" and "ConnectionError" in rows[3].error
    assert all(r.latency_ms >= 0 for r in rows) and rows[1].latency_ms >= 400
    message.refresh_from_db()
    assert (message.state, message.attempts, message.next_attempt_at) == ("delivered", 5, None)
    assert message.delivered_at is not None

    # Every attempt the receiver saw was the same message, correctly signed.
    assert len(receiver.requests) == 4  # the fourth never arrived
    assert {r.headers["webhook-id"] for r in receiver.requests} == {message.msg_id}
    assert all(spec_verify(SECRET, r.headers, r.body) for r in receiver.requests)
    assert receiver.requests[-1].path == "/hooks/kyc"

    # Each failure queued the next attempt for later, the success nothing more.
    queued = DBTaskResult.objects.filter(task_path="verification.services.webhooks.deliver_webhook")
    assert queued.count() == 5  # the first attempt and four retries
    fall_due(message)
    assert webhooks.webhook_deliver(message_id=message.pk) is None
    assert WebhookAttempt.objects.filter(message=message).count() == 5


def test_failures_are_scheduled_by_the_table_and_the_last_one_fails_the_message(alice_hooked, receiver,
                                                                               django_capture_on_commit_callbacks):
    receiver.respond = lambda request: (302, {"Location": "https://elsewhere.example/"}, b"")
    session = finished_session(alice_hooked)
    message = webhooks.webhook_enqueue(session=session, event_type="session.completed")

    before = timezone.now()
    webhooks.webhook_deliver(message_id=message.pk)
    message.refresh_from_db()
    assert message.state == "pending"
    assert before + timedelta(seconds=5) <= message.next_attempt_at <= timezone.now() + timedelta(seconds=5)
    # Not yet due: a task that runs early makes no attempt.
    assert webhooks.webhook_deliver(message_id=message.pk) is None

    for _ in range(7):
        fall_due(message)
        webhooks.webhook_deliver(message_id=message.pk)
    message.refresh_from_db()
    assert (message.state, message.attempts, message.next_attempt_at) == ("failed", 8, None)
    assert set(WebhookAttempt.objects.values_list("http_status", flat=True)) == {302}  # redirects not followed
    assert len(receiver.requests) == 8


def test_the_payload_names_no_person_and_has_the_outcome(alice_hooked, receiver, django_capture_on_commit_callbacks):
    session = finished_session(alice_hooked)
    with django_capture_on_commit_callbacks(execute=True):
        message = webhooks.webhook_enqueue(session=session, event_type="session.completed")
    webhooks.webhook_deliver(message_id=message.pk)

    body = receiver.requests[0].body
    assert "张三".encode() not in body and "\\u5f20".encode() not in body and IDCARD.encode() not in body
    sent = json.loads(body)
    assert sent["type"] == "session.completed"
    assert timezone.datetime.fromisoformat(sent["timestamp"])
    assert sent["data"] == {
        "session_id": str(session.pk), "external_ref": "order-42", "method": "tencent_lip",
        "method_requested": "tencent_lip", "methods_tried": ["tencent_lip"], "status": "passed",
        "review_status": "not_needed", "passed": True, "reason": "passed", "vendor_code": "0", "sequence": 1,
    }
    assert receiver.requests[0].headers["Content-Type"] == "application/json"


def test_sequence_grows_per_session_so_a_late_older_event_is_recognised(alice_hooked, receiver):
    session, other = finished_session(alice_hooked), finished_session(alice_hooked)
    first = webhooks.webhook_enqueue(session=session, event_type="session.completed")
    session.review_status = "approved"
    session.save()
    second = webhooks.webhook_enqueue(session=session, event_type="session.reviewed")
    elsewhere = webhooks.webhook_enqueue(session=other, event_type="session.completed")
    assert (first.sequence, second.sequence, elsewhere.sequence) == (1, 2, 1)
    assert first.msg_id != second.msg_id

    # The newer event arrives first; the older one, late, is told apart by its sequence.
    webhooks.webhook_deliver(message_id=second.pk)
    webhooks.webhook_deliver(message_id=first.pk)
    newest = {}
    for request in receiver.requests:
        data = json.loads(request.body)["data"]
        if data["sequence"] > newest.get("sequence", 0):
            newest = data
    assert newest["review_status"] == "approved"
    assert [json.loads(r.body)["data"]["sequence"] for r in receiver.requests] == [2, 1]


# --- events ---------------------------------------------------------------------------------


def test_a_recorded_outcome_sends_session_completed(alice_hooked, receiver, django_capture_on_commit_callbacks):
    session = new_session(client=alice_hooked, method="h5", external_ref="r",
                                                 expires_at=timezone.now() - timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        sessions.session_expire_link(session=session)

    message = WebhookMessage.objects.get()
    assert (message.event_type, message.session, message.client) == ("session.completed", session, alice_hooked)
    assert message.payload["data"]["status"] == "expired" and message.payload["data"]["reason"] == "link_expired"
    task = DBTaskResult.objects.get(task_path="verification.services.webhooks.deliver_webhook")
    assert task.args_kwargs["args"] == [message.pk]


def test_a_final_review_decision_sends_session_reviewed(alice_hooked, settings):
    settings.KYC_FOUR_EYES = False
    session = finished_session(alice_hooked, review_status="needs_review")
    reviewer = User.objects.create_user("rita", is_staff=True)

    review.session_decide(session=session, reviewer=reviewer, decision="approve", note="Looks right.")

    message = WebhookMessage.objects.get()
    assert message.event_type == "session.reviewed"
    assert message.payload["data"]["review_status"] == "approved"


def test_under_four_eyes_the_webhook_waits_for_the_confirmation(alice_hooked, settings):
    settings.KYC_FOUR_EYES = True
    session = finished_session(alice_hooked, review_status="needs_review")
    rita = User.objects.create_user("rita", is_staff=True)
    sam = User.objects.create_user("sam", is_staff=True)

    made = review.session_decide(session=session, reviewer=rita, decision="reject", note="Not the same person.")
    assert not WebhookMessage.objects.exists()
    review.decision_confirm(decision=made, reviewer=sam)

    message = WebhookMessage.objects.get()
    assert (message.event_type, message.payload["data"]["review_status"]) == ("session.reviewed", "rejected")


def test_a_retry_decision_sends_nothing(alice_hooked, settings):
    settings.KYC_FOUR_EYES = False
    session = finished_session(alice_hooked, attempts_used=1, review_status="needs_review")
    reviewer = User.objects.create_user("rita", is_staff=True)

    review.session_decide(session=session, reviewer=reviewer, decision="retry", note="Try again.")

    assert not WebhookMessage.objects.exists()


def test_no_webhook_without_a_url_or_a_client(charlie, django_capture_on_commit_callbacks):
    assert not charlie.webhook_url
    with django_capture_on_commit_callbacks(execute=True):
        for client in (charlie, None):
            session = new_session(client=client, method="h5", external_ref="r",
                                                         expires_at=timezone.now() - timedelta(minutes=1))
            sessions.session_expire_link(session=session)
            assert webhooks.webhook_enqueue(session=session, event_type="session.completed") is None

    assert not WebhookMessage.objects.exists()
    assert not DBTaskResult.objects.filter(task_path="verification.services.webhooks.deliver_webhook").exists()


# --- the admin ------------------------------------------------------------------------------


def test_the_admin_resend_is_a_new_attempt_of_the_same_message(alice_hooked, receiver, client,
                                                              django_capture_on_commit_callbacks):
    message = webhooks.webhook_enqueue(session=finished_session(alice_hooked), event_type="session.completed")
    webhooks.webhook_deliver(message_id=message.pk)
    admin = User.objects.create_superuser("ada", password="pw-ada-123")
    client.force_login(admin)
    changelist = reverse("admin:verification_webhookmessage_changelist")

    assert client.get(changelist, {"state": "delivered"}).status_code == 200
    assert message.msg_id in client.get(reverse("admin:verification_webhookmessage_change",
                                                args=[message.pk])).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(changelist, {"action": "resend_now", "_selected_action": [message.pk]})
    assert response.status_code == 302
    task = DBTaskResult.objects.filter(task_path="verification.services.webhooks.deliver_webhook").get()
    webhooks.webhook_deliver(message_id=task.args_kwargs["args"][0])

    assert list(message.attempt_rows.values_list("attempt", "http_status")) == [(1, 200), (2, 200)]
    assert [r.headers["webhook-id"] for r in receiver.requests] == [message.msg_id] * 2
    assert all(spec_verify(SECRET, r.headers, r.body) for r in receiver.requests)
    message.refresh_from_db()
    assert message.state == "delivered"


def test_staff_without_the_change_permission_cannot_resend(alice_hooked, client):
    message = webhooks.webhook_enqueue(session=finished_session(alice_hooked), event_type="session.completed")
    oscar = User.objects.create_user("oscar", password="pw-oscar-123", is_staff=True)
    oscar.user_permissions.add(Permission.objects.get(codename="view_webhookmessage"))
    client.force_login(oscar)
    changelist = reverse("admin:verification_webhookmessage_changelist")

    assert "resend_now" not in client.get(changelist).content.decode()
    client.post(changelist, {"action": "resend_now", "_selected_action": [message.pk]})
    assert not WebhookAttempt.objects.exists()
    assert not DBTaskResult.objects.filter(task_path="verification.services.webhooks.deliver_webhook").exists()


# --- secret rotation ------------------------------------------------------------------------


def test_rotation_prints_a_new_secret_and_keeps_the_old_one_valid(alice_hooked, receiver, capsys):
    call_command("rotate_webhook_secret", "alice")

    new = re.search(r"secret \(shown once\): (\S+)", capsys.readouterr().out).group(1)
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", new)
    alice_hooked.refresh_from_db()
    assert (alice_hooked.webhook_secret, alice_hooked.webhook_secret_previous) == (new, SECRET)

    message = webhooks.webhook_enqueue(session=finished_session(alice_hooked), event_type="session.completed")
    webhooks.webhook_deliver(message_id=message.pk)
    sent = receiver.requests[-1]
    assert len(sent.headers["webhook-signature"].split(" ")) == 2
    assert spec_verify(new, sent.headers, sent.body) and spec_verify(SECRET, sent.headers, sent.body)

    call_command("rotate_webhook_secret", "alice", "--drop-previous")
    alice_hooked.refresh_from_db()
    assert (alice_hooked.webhook_secret, alice_hooked.webhook_secret_previous) == (new, "")
    fall_due(message)
    webhooks.webhook_resend(message=message)
    webhooks.webhook_deliver(message_id=message.pk)
    sent = receiver.requests[-1]
    assert spec_verify(new, sent.headers, sent.body) and not spec_verify(SECRET, sent.headers, sent.body)


def test_rotation_refuses_unknown_clients_and_a_missing_previous_secret(alice_hooked):
    with pytest.raises(CommandError, match="no API client"):
        call_command("rotate_webhook_secret", "nobody")
    with pytest.raises(CommandError, match="no previous"):
        call_command("rotate_webhook_secret", "alice", "--drop-previous")
