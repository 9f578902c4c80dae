"""Rotating and revoking integrators' API keys: the one way the commands and
the admin do it, each time with an audit entry written in the same
transaction (no new key without a record of who made it)."""

import logging
from datetime import timedelta

from django.db import transaction

from ..models import ApiClient, AuditEntry

logger = logging.getLogger(__name__)

DEFAULT_GRACE_HOURS = 24
# An old key that keeps working for weeks is not rotated: a week at most.
MAX_GRACE_HOURS = 168


class GraceOutOfRange(ValueError):
    """A grace period below zero or above MAX_GRACE_HOURS."""


def api_key_rotate(*, client: ApiClient, grace_hours: int, actor, via: str) -> str:
    """Gives `client` a new key of the current mode and returns it (to be
    shown once); its other keys keep working for `grace_hours` at most.
    `actor` is the user, or None for a command; `via` says where it was done."""
    if not 0 <= grace_hours <= MAX_GRACE_HOURS:
        raise GraceOutOfRange(f"the grace period must be 0 to {MAX_GRACE_HOURS} hours, not {grace_hours}")
    with transaction.atomic():
        # One rotation of a client at a time: two at once would each leave
        # the other's new key in a grace period.
        client = ApiClient.objects.select_for_update().get(pk=client.pk)
        api_key, key = client.rotate_key(grace=timedelta(hours=grace_hours))
        AuditEntry.record(
            actor=actor,
            action=AuditEntry.Action.ROTATE_API_KEY,
            detail=f"client {client.name} (id {client.pk}): new {api_key.mode} key {api_key.hint}…; "
            f"older keys end within {grace_hours} h; {via}",
        )
    logger.info("api key rotated client=%s mode=%s grace_hours=%s", client.pk, api_key.mode, grace_hours)
    return key


def api_keys_revoke(*, client: ApiClient, actor, via: str) -> int:
    """Stops every key of `client` at once; returns how many were stopped."""
    with transaction.atomic():
        client = ApiClient.objects.select_for_update().get(pk=client.pk)
        revoked = client.revoke_keys()
        AuditEntry.record(
            actor=actor,
            action=AuditEntry.Action.REVOKE_API_KEYS,
            detail=f"client {client.name} (id {client.pk}): {revoked} key(s) revoked; {via}",
        )
    logger.warning("api keys revoked client=%s count=%s", client.pk, revoked)
    return revoked
