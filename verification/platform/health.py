"""What load balancers and orchestrators ask: /healthz (the process answers)
and /readyz (it can do its work: the database answers, the media storage
answers, and a task worker was seen recently).

Both are answered by `HealthCheckMiddleware` before anything else runs, so
they need no host name (a container's health check calls 127.0.0.1, which a
production ALLOWED_HOSTS refuses), no HTTPS and no session."""

import logging
import threading
import time

from django.core.cache import cache
from django.core.files.storage import default_storage
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


def readiness() -> dict[str, str]:
    """Each dependency with "ok" or what is wrong with it."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    try:
        default_storage.exists(".readyz")
        checks["storage"] = "ok"
    except Exception as exc:
        checks["storage"] = f"unreachable: {type(exc).__name__}"
    try:
        seen = cache.get(HEARTBEAT_KEY)
    except Exception as exc:
        checks["worker"] = f"cache unreachable: {type(exc).__name__}"
    else:
        if seen is None:
            checks["worker"] = "no task worker seen yet"
        elif time.time() - seen > WORKER_SILENCE_SECONDS:
            checks["worker"] = f"no task worker seen for {int(time.time() - seen)} s"
        else:
            checks["worker"] = "ok"
    return checks


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
            return JsonResponse(
                {"status": "ready" if ready else "not_ready", "checks": checks},
                status=200 if ready else 503,
                headers={"Cache-Control": "no-store"},
            )
        return self.get_response(request)
