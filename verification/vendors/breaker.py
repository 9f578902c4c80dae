"""A circuit breaker per vendor, its state shared by every web process and
worker through Django's cache (Redis when REDIS_URL is set).

After VENDOR_BREAKER_FAILURES failed calls in a row (no answer, garbage, a
5xx) the breaker opens: for VENDOR_BREAKER_OPEN_SECONDS the portal sends the
vendor nothing and tells people to come back later, instead of making each
of them wait for a timeout. Then one call at a time is let through as a
probe; its success closes the breaker, its failure opens it again.

A vendor that answers with one of its own error codes is working, and
counts as a success here."""

import logging
import time

from django.conf import settings
from django.core.cache import cache

from ..platform.limits import count

logger = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

# A probe that never reports back (its process died) frees the slot after this.
PROBE_LEASE_SECONDS = 30


def _keys(vendor: str) -> tuple[str, str, str]:
    return f"breaker:{vendor}:failures", f"breaker:{vendor}:open_until", f"breaker:{vendor}:probe"


def breaker_state(vendor: str, *, now: float | None = None) -> str:
    _failures, open_until_key, _probe = _keys(vendor)
    open_until = cache.get(open_until_key)
    if open_until is None:
        return CLOSED
    return OPEN if (now or time.time()) < open_until else HALF_OPEN


def breaker_is_open(vendor: str) -> bool:
    """Whether calls to `vendor` are being held back now (what routing asks
    before choosing a vendor's method). Without a reachable cache there is
    no breaker: False."""
    try:
        return breaker_state(vendor) == OPEN
    except Exception:
        logger.warning("breaker of %s not read: the cache is unreachable", vendor, exc_info=True)
        return False


def breaker_allows(vendor: str, *, now: float | None = None) -> bool:
    """Whether a call to `vendor` may be made now; in the half-open state
    only one caller at a time gets True (the probe). Without a reachable
    cache there is no breaker: calls go through."""
    try:
        return _allows(vendor, now=now)
    except Exception:
        logger.warning("breaker of %s not read: the cache is unreachable", vendor, exc_info=True)
        return True


def _allows(vendor: str, *, now: float | None) -> bool:
    state = breaker_state(vendor, now=now)
    if state == CLOSED:
        return True
    if state == OPEN:
        return False
    return cache.add(_keys(vendor)[2], 1, timeout=PROBE_LEASE_SECONDS)


def breaker_record(vendor: str, *, failed: bool, now: float | None = None) -> None:
    try:
        _record(vendor, failed=failed, now=now)
    except Exception:
        logger.warning("breaker of %s not updated: the cache is unreachable", vendor, exc_info=True)


def _record(vendor: str, *, failed: bool, now: float | None) -> None:
    failures_key, open_until_key, probe_key = _keys(vendor)
    now = now or time.time()
    # One read on the common path (a success with nothing to clear).
    state = cache.get_many([failures_key, open_until_key])
    if not failed:
        if open_until_key in state:
            logger.warning("breaker closed vendor=%s: the probe succeeded", vendor)
            cache.delete_many([failures_key, open_until_key, probe_key])
        elif failures_key in state:
            cache.delete(failures_key)
        return
    if open_until_key in state:
        # The probe failed (or a call begun before the breaker opened).
        _open(vendor, now=now, why="the probe failed")
        return
    if count(failures_key, timeout=None) >= settings.VENDOR_BREAKER_FAILURES:
        _open(vendor, now=now, why=f"{settings.VENDOR_BREAKER_FAILURES} failures in a row")


def _open(vendor: str, *, now: float, why: str) -> None:
    failures_key, open_until_key, probe_key = _keys(vendor)
    cache.set(open_until_key, now + settings.VENDOR_BREAKER_OPEN_SECONDS, timeout=None)
    cache.delete_many([failures_key, probe_key])
    logger.warning("breaker open vendor=%s for %ss: %s", vendor, settings.VENDOR_BREAKER_OPEN_SECONDS, why)
