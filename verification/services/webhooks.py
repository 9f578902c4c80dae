"""Signed webhooks to integrators, in the Standard Webhooks format
(https://www.standardwebhooks.com/): `webhook-id`, `webhook-timestamp` and
`webhook-signature` headers over a JSON body that names no person.

A message is created once per event and keeps its `webhook-id` on every
attempt; each attempt leaves a WebhookAttempt row. Retries follow
`next_attempt_delay` for a little more than a day, then the message fails."""

import base64
import hashlib
import hmac
import json
import logging
import time
import uuid
from datetime import timedelta
from typing import NamedTuple

import requests
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from django_tasks import task

from ..models import WebhookAttempt, WebhookMessage
from ..platform import webhook_targets

logger = logging.getLogger(__name__)

SESSION_COMPLETED = "session.completed"
SESSION_REVIEWED = "session.reviewed"
EVENT_TYPES = (SESSION_COMPLETED, SESSION_REVIEWED)

SECRET_PREFIX = "whsec_"
# (connect, read) seconds: a slow receiver must not hold a worker for long.
TIMEOUT = (3, 10)
# A task may run a moment before the time it was scheduled for.
EARLY_SLACK = timedelta(seconds=2)

# Delays after each failed attempt (the first is made at once): the schedule
# Standard Webhooks suggests, 27.6 hours in all, then the message fails.
RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)

# --- signing (pure) -------------------------------------------------------------------


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """`v1,<base64 HMAC-SHA256>` of `{msg_id}.{timestamp}.{body}`, keyed with
    the secret's bytes (the base64 after `whsec_`)."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{msg_id}.{timestamp}.{body}".encode()
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signature_header(secrets_: list[str], msg_id: str, timestamp: int, body: str) -> str:
    """One signature per secret, space-separated (the newest first): during a
    rotation a receiver holding either secret finds one that matches."""
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets_ if secret)


def webhook_headers(*, secrets_: list[str], msg_id: str, timestamp: int, body: str) -> dict:
    return {
        "Content-Type": "application/json",
        "User-Agent": "kyc-portal-webhooks/1",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets_, msg_id, timestamp, body),
    }


def next_attempt_delay(attempt: int) -> timedelta | None:
    """How long to wait after failed attempt number `attempt` (counting from
    1), or None when no attempt is left."""
    if 1 <= attempt <= len(RETRY_DELAYS):
        return RETRY_DELAYS[attempt - 1]
    return None


def message_body(message: WebhookMessage) -> str:
    return json.dumps(message.payload, separators=(",", ":"), sort_keys=True)


# --- services -------------------------------------------------------------------------


def _payload(*, session, event_type: str, sequence: int) -> dict:
    # Only what an integrator needs to act: no name, ID number or media.
    return {
        "type": event_type,
        "timestamp": timezone.now().isoformat(),
        "data": {
            "session_id": str(session.pk),
            "external_ref": session.external_ref,
            "method": session.method or None,
            "method_requested": session.method_requested or session.method,
            "methods_tried": session.route_taken,
            "status": session.status,
            "review_status": session.review_status,
            "passed": session.passed,
            "reason": session.reason,
            "vendor_code": session.vendor_code,
            "sequence": sequence,
        },
    }


def webhook_enqueue(*, session, event_type: str) -> WebhookMessage | None:
    """Records an event of `session` for its client's webhook URL and queues
    its first attempt once the transaction commits. Nothing happens when the
    session has no client or the client no webhook URL."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    client = session.client
    if client is None or not client.webhook_url or not client.is_active:
        return None
    if not client.webhook_secret:
        logger.warning("client=%s has a webhook URL but no secret; no webhook sent", client.pk)
        return None
    for tries_left in reversed(range(3)):
        try:
            # Unique (session, sequence): two events at once cannot share a number.
            with transaction.atomic():
                last = WebhookMessage.objects.filter(session=session).aggregate(last=Max("sequence"))["last"]
                sequence = (last or 0) + 1
                message = WebhookMessage.objects.create(
                    client=client,
                    session=session,
                    msg_id=f"msg_{uuid.uuid4().hex}",
                    event_type=event_type,
                    sequence=sequence,
                    payload=_payload(session=session, event_type=event_type, sequence=sequence),
                    next_attempt_at=timezone.now(),
                )
            break
        except IntegrityError:
            if not tries_left:
                raise
    logger.info("webhook %s %s queued for client=%s session=%s", message.msg_id, event_type, client.pk, session.pk)
    _schedule_delivery(message, at=None)
    return message


def webhook_resend(*, message: WebhookMessage) -> None:
    """One more attempt of the same message (same webhook-id), queued now,
    whatever its state; if it fails, the rest of the schedule applies."""
    now = timezone.now()
    WebhookMessage.objects.filter(pk=message.pk).update(state=WebhookMessage.State.PENDING, next_attempt_at=now)
    message.state, message.next_attempt_at = WebhookMessage.State.PENDING, now
    _schedule_delivery(message, at=None)


def webhook_deliver(*, message_id: int) -> WebhookAttempt | None:
    """Makes one attempt of a pending message that is due, records it, and
    schedules the next one or settles the message. Returns the attempt, or
    None when there was nothing to do (delivered, failed, not yet due, or
    another worker has this attempt)."""
    message = WebhookMessage.objects.select_related("client").filter(pk=message_id).first()
    if message is None or message.state != WebhookMessage.State.PENDING:
        return None
    now = timezone.now()
    if message.next_attempt_at and message.next_attempt_at > now + EARLY_SLACK:
        return None  # a task left over from before a resend: a newer one is queued
    number = message.attempts + 1
    claimed = WebhookMessage.objects.filter(
        pk=message.pk, attempts=message.attempts, state=WebhookMessage.State.PENDING
    ).update(attempts=number)
    if not claimed:
        return None
    message.attempts = number

    posted = _post(message)
    attempt = WebhookAttempt.objects.create(
        message=message, attempt=number, http_status=posted.http_status, error=posted.error,
        latency_ms=posted.latency_ms,
    )
    logger.info(
        "webhook %s attempt=%s client=%s status=%s error=%s latency_ms=%s",
        message.msg_id, number, message.client_id, posted.http_status, posted.error, posted.latency_ms,
    )
    if posted.http_status is not None and 200 <= posted.http_status < 300:
        message.state = WebhookMessage.State.DELIVERED
        message.delivered_at = timezone.now()
        message.next_attempt_at = None
    elif posted.refused:
        # The same URL would be refused on every retry; an operator can
        # resend from the admin once the URL or the allow list is fixed.
        message.state = WebhookMessage.State.FAILED
        message.next_attempt_at = None
        logger.warning("webhook %s to client=%s refused: %s", message.msg_id, message.client_id, posted.error)
    elif (delay := next_attempt_delay(number)) is not None:
        message.next_attempt_at = timezone.now() + delay
        _schedule_delivery(message, at=message.next_attempt_at)
    else:
        message.state = WebhookMessage.State.FAILED
        message.next_attempt_at = None
        logger.warning("webhook %s failed after %s attempts", message.msg_id, number)
    message.save(update_fields=["state", "delivered_at", "next_attempt_at"])
    return attempt


class PostResult(NamedTuple):
    http_status: int | None
    error: str
    latency_ms: int
    # The URL is refused by the address rules: retrying cannot help.
    refused: bool = False


def _post(message: WebhookMessage) -> PostResult:
    """One POST, to the addresses the URL's host resolved to when it was
    checked just now (webhook_targets). Redirects are not followed: a signed
    body goes only where the integrator said."""
    client = message.client
    if not client.webhook_url or not client.webhook_secret:
        return PostResult(None, "the client has no webhook URL or secret", 0)
    started = time.monotonic()
    try:
        target = webhook_targets.delivery_target(client.webhook_url)
    except webhook_targets.WebhookTargetRefused as refused:
        return PostResult(None, f"refused: {refused}"[:255], _ms_since(started), refused=True)
    except webhook_targets.WebhookHostUnresolved as unresolved:
        return PostResult(None, str(unresolved)[:255], _ms_since(started))
    body = message_body(message)
    headers = webhook_headers(
        secrets_=[client.webhook_secret, client.webhook_secret_previous],
        msg_id=message.msg_id,
        timestamp=int(time.time()),
        body=body,
    )
    try:
        status = webhook_targets.post_pinned(target, data=body.encode(), headers=headers, timeout=TIMEOUT)
    except requests.Timeout:
        return PostResult(None, "timeout", _ms_since(started))
    except requests.RequestException as exc:
        return PostResult(None, f"{type(exc).__name__}: {exc}"[:255], _ms_since(started))
    error = "" if 200 <= status < 300 else f"HTTP {status}"
    return PostResult(status, error, _ms_since(started))


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _schedule_delivery(message: WebhookMessage, *, at) -> None:
    task = deliver_webhook.using(run_after=at) if at else deliver_webhook
    transaction.on_commit(lambda: task.enqueue(message.pk))


@task()
def deliver_webhook(message_id: int) -> None:
    """One attempt of a webhook message; the next one, if needed, is queued by webhook_deliver."""
    webhook_deliver(message_id=message_id)
