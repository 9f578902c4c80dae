"""`Idempotency-Key` on the integration API's POSTs, by Stripe's rules: a
retry with the same key and the same body gets the first answer again
(for 24 hours); the same key with another body is a conflict; while the
first request is still running, a second one is told so and does nothing.

The key is claimed by inserting its row before any work; the unique
constraint on (client, key) decides between concurrent requests."""

import hashlib
import json
import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..domain.errors import IdempotencyConflict, InvalidInput
from ..models import IdempotencyKey
from ..models.idempotency import KEPT_FOR

logger = logging.getLogger(__name__)

KEY_MAX_LENGTH = 255


@dataclass(frozen=True)
class Claim:
    """What a request with a key may do: `replay` the stored answer, or go
    on and store its own answer in `row`."""

    row: IdempotencyKey
    replay: bool


def request_fingerprint(*, method: str, path: str, body: bytes) -> str:
    """What makes two requests the same: the method, the path and the body,
    a JSON body as its values (key order and spacing aside)."""
    try:
        body = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError, RecursionError):
        pass  # not JSON: compared as sent
    return hashlib.sha256(b"%s %s\n%s" % (method.encode(), path.encode(), body)).hexdigest()


def check_key(key: str) -> str:
    if not key or len(key) > KEY_MAX_LENGTH or not key.isprintable() or not key.isascii():
        raise InvalidInput({"Idempotency-Key": f"1 to {KEY_MAX_LENGTH} printable ASCII characters"})
    return key


def idempotency_claim(*, client, key: str, fingerprint: str) -> Claim:
    """Claims `key` for this request, or finds the answer it already had.
    Raises IdempotencyConflict (another body; the first still running)."""
    check_key(key)
    for _ in range(3):
        row = IdempotencyKey.objects.filter(client=client, key=key).first()
        if row is not None and row.is_expired:
            # Past 24 hours a key is new again: the old row goes (unless another request took it meanwhile).
            IdempotencyKey.objects.filter(pk=row.pk, created_at=row.created_at).delete()
            row = None
        if row is None:
            try:
                with transaction.atomic():
                    row = IdempotencyKey.objects.create(client=client, key=key, request_hash=fingerprint)
                return Claim(row=row, replay=False)
            except IntegrityError:
                continue  # another request claimed it a moment ago: read what it holds
        if row.request_hash != fingerprint:
            raise IdempotencyConflict(
                "this Idempotency-Key was used with another request; use a new key for a new request",
                code="idempotency_conflict")
        if not row.is_answered:
            raise IdempotencyConflict(
                "a request with this Idempotency-Key is still being processed; retry in a moment",
                code="idempotency_in_progress")
        logger.info("idempotency key replayed client=%s", client.pk)
        return Claim(row=row, replay=True)
    raise IdempotencyConflict("this Idempotency-Key is in use by a concurrent request; retry in a moment",
                              code="idempotency_in_progress")


def idempotency_keys_purge_expired(*, now=None) -> int:
    """The sweep: forgets keys older than 24 hours. Returns how many."""
    now = now or timezone.now()
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=now - KEPT_FOR).delete()
    return deleted
