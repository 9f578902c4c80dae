"""Request rates on the API and the public pages, counted per API client or
per client address in the shared cache (Redis with REDIS_URL), so every web
process counts the same requests. Past a limit the request is answered 429
with Retry-After and does nothing else: no vendor is called.

Attempt limits per ID number and per address, which protect the vendor
spend, are checked where an attempt begins (services._begin_attempt)."""

import hashlib
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rate:
    """`count` requests per `seconds`, written "30/60" in settings."""

    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> "Rate":
        count, _, seconds = text.partition("/")
        rate = cls(int(count), int(seconds))
        if rate.count < 1 or rate.seconds < 1:
            raise ValueError(f"{text!r}: both numbers must be positive")
        return rate


@dataclass(frozen=True)
class Usage:
    """One request counted under a limit: what the IETF RateLimit headers
    say (`limit`, `remaining`, `reset` seconds until the window ends) and
    `retry_after`, 0 while within the limit."""

    limit: int
    remaining: int
    reset: int
    retry_after: int

    def headers(self) -> dict[str, str]:
        headers = {"RateLimit-Limit": str(self.limit), "RateLimit-Remaining": str(self.remaining),
                   "RateLimit-Reset": str(self.reset)}
        if self.retry_after:
            headers["Retry-After"] = str(self.retry_after)
        return headers


def take(name: str, key: str, rate: Rate, *, now: float | None = None) -> Usage:
    """Counts one request of `key` under the limit `name` (fixed windows of
    `rate.seconds`)."""
    now = time.time() if now is None else now
    window = int(now // rate.seconds)
    reset = max(1, int((window + 1) * rate.seconds - now))
    # Addresses are personal data: the cache holds a hash of them.
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    try:
        hits = count(f"rate:{name}:{digest}:{window}", timeout=rate.seconds + 1)
    except Exception:  # the cache is down: people are let through, and it is logged
        logger.warning("rate limit %s not counted: the cache is unreachable", name, exc_info=True)
        return Usage(rate.count, rate.count, reset, 0)
    return Usage(rate.count, max(rate.count - hits, 0), reset, reset if hits > rate.count else 0)


def retry_after(name: str, key: str, rate: Rate, *, now: float | None = None) -> int:
    """Counts one request of `key` under the limit `name`; 0 when it is
    within `rate`, else the seconds until the window ends."""
    return take(name, key, rate, now=now).retry_after


def count(key: str, *, timeout: float | None) -> int:
    """Adds one to a counter in the shared cache and returns it (Redis:
    atomic across processes, one round trip once the counter exists). A
    counter another process made, or deleted, between two steps is
    counted on, or started again at one."""
    for _ in range(2):
        try:
            return cache.incr(key)
        except ValueError:
            if cache.add(key, 1, timeout=timeout):
                return 1
    return 1


def client_ip(request) -> str:
    """The address of the person's browser. Behind KYC_TRUSTED_PROXIES
    proxies it is the entry they appended to X-Forwarded-For; anything
    further left could be written by the client itself."""
    proxies = settings.KYC_TRUSTED_PROXIES
    if proxies:
        forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")
