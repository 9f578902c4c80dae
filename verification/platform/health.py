"""What load balancers and orchestrators ask: /healthz (the process answers)
and /readyz (it can do its work: the database answers, the cache (Redis)
answers, the media storage answers and has room for an upload, and a task
worker was seen recently). Each check that starts failing is logged once,
with what is wrong, and once again when it is ok again.

Both are answered by `HealthCheckMiddleware` before anything else runs, so
they need no host name (a container's health check calls 127.0.0.1, which a
production ALLOWED_HOSTS refuses), no HTTPS and no session."""

import logging
import re
import shutil
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import close_old_connections, connection
from django.http import JsonResponse

logger = logging.getLogger(__name__)

HEARTBEAT_KEY = "worker:last_seen"
HEARTBEAT_SECONDS = 15
# A worker busy with one long task still beats (its own thread): three
# missed beats mean none is running.
WORKER_SILENCE_SECONDS = 60


def worker_heartbeat(stop: threading.Event) -> None:
    """Runs in a thread of each task worker until `stop` is set."""
    while not stop.is_set():
        try:
            cache.set(HEARTBEAT_KEY, time.time(), timeout=None)
        except Exception:  # the cache is down: /readyz will say so
            logger.warning("worker heartbeat not written", exc_info=True)
        finally:
            close_old_connections()
        stop.wait(HEARTBEAT_SECONDS)


READYZ_CACHE_KEY = "readyz:probe"


def readiness() -> dict[str, str]:
    """Each dependency with "ok" or what is wrong with it."""
    checks = {"database": _database(), "cache": _cache(), "storage": _storage(), "worker": _worker()}
    _log_changes(checks)
    return checks


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:
        # A connection the server dropped (a restart) stays broken: the next
        # probe, and the next request, connect afresh.
        connection.close_if_unusable_or_obsolete()
        return f"unreachable: {type(exc).__name__}"


def _cache() -> str:
    """Breakers and rate limits live here (Redis); without it they let
    everybody through, so a portal without its cache is not ready."""
    try:
        cache.set(READYZ_CACHE_KEY, 1, timeout=60)
        return "ok"
    except Exception as exc:
        return f"unreachable: {type(exc).__name__}"


def _storage() -> str:
    try:
        default_storage.exists(".readyz")
    except Exception as exc:
        return f"unreachable: {type(exc).__name__}"
    if isinstance(default_storage, FileSystemStorage):
        try:
            free = shutil.disk_usage(_made_or_parent(Path(default_storage.location))).free
        except OSError as exc:
            return f"unreachable: {type(exc).__name__}"
        if free < settings.KYC_MEDIA_MIN_FREE_BYTES:
            return f"full: {free // (1024 * 1024)} MB free"
    return "ok"


def _made_or_parent(path: Path) -> Path:
    # Django makes MEDIA_ROOT at the first save: until then, measure the
    # disk it will be made on.
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _worker() -> str:
    try:
        seen = cache.get(HEARTBEAT_KEY)
    except Exception as exc:
        return f"cache unreachable: {type(exc).__name__}"
    if seen is None:
        return "no task worker seen yet"
    if time.time() - seen > WORKER_SILENCE_SECONDS:
        return f"no task worker seen for {int(time.time() - seen)} s"
    return "ok"


_last_seen: dict[str, str] = {}
_last_seen_lock = threading.Lock()


def _log_changes(checks: dict[str, str]) -> None:
    """One line when a check starts failing (or fails differently), one
    when it is ok again: an orchestrator's probe every few seconds does not
    flood the log. Per process."""
    with _last_seen_lock:
        for name, state in checks.items():
            before = _last_seen.get(name, "ok")
            _last_seen[name] = state
            if _kind(state) == _kind(before):  # "for 75 s" and "for 80 s" are one fault
                continue
            if state == "ok":
                logger.warning("readyz: %s ok again (was: %s)", name, before)
            else:
                logger.error("readyz: %s %s: not ready", name, state)


def _kind(state: str) -> str:
    return re.sub(r"\d+", "N", state)


class HealthCheckMiddleware:
    """First in the chain: /healthz and /readyz are answered here."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/healthz":
            return JsonResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})
        if request.path == "/readyz":
            checks = readiness()
            ready = all(value == "ok" for value in checks.values())
            response = JsonResponse(
                {"status": "ready" if ready else "not_ready", "checks": checks},
                status=200 if ready else 503,
                headers={"Cache-Control": "no-store"},
            )
            # Logged once per fault above, not as a server error at every probe.
            response._has_been_logged = True
            return response
        return self.get_response(request)
