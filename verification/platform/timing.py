"""The portal's own time per request, in every answer's `Server-Timing`
header: `app` is the time from the first middleware to the answer (the
portal's work, including its waits on PostgreSQL, Redis and vendors), `cpu`
the CPU time the request's thread used meanwhile (the portal's own work,
whatever else the machine runs), `db` the time spent in database queries,
with their count.

    Server-Timing: app;dur=4.21, cpu;dur=2.80, db;dur=1.37;desc="5 queries"

Benchmarks and operators read it from the answers (or from the access log,
where gunicorn.conf.py writes it) instead of subtracting percentiles of two
latency distributions. Browsers show it in the developer tools; a page of
another origin (an integrator's embedding page) cannot read it through the
Performance API, since no `Timing-Allow-Origin` is sent. It is a header
only: no markup, no script, nothing the Content-Security-Policy governs.
SERVER_TIMING = False (env `SERVER_TIMING=0`) turns it off."""

import time

from django.conf import settings
from django.db import connections


class _QueryClock:
    """Adds up the time of each query run through the connection it wraps."""

    def __init__(self):
        self.seconds = 0.0
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.count += 1


class ServerTimingMiddleware:
    """Outermost, so `app` covers every other middleware too."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.enabled = getattr(settings, "SERVER_TIMING", True)

    def __call__(self, request):
        if not self.enabled:
            return self.get_response(request)
        started, cpu_started = time.perf_counter(), time.thread_time()
        clock = _QueryClock()
        connection = connections["default"]
        with connection.execute_wrapper(clock):
            response = self.get_response(request)
        elapsed, cpu = time.perf_counter() - started, time.thread_time() - cpu_started
        response["Server-Timing"] = server_timing(elapsed, clock.seconds, clock.count, cpu_seconds=cpu)
        return response


def server_timing(app_seconds: float, db_seconds: float, queries: int, *, cpu_seconds: float) -> str:
    plural = "query" if queries == 1 else "queries"
    return (f"app;dur={app_seconds * 1000:.2f}, cpu;dur={cpu_seconds * 1000:.2f}, "
            f'db;dur={db_seconds * 1000:.2f};desc="{queries} {plural}"')


def parse_server_timing(header: str) -> dict[str, float]:
    """{"app": ms, "cpu": ms, "db": ms} from a Server-Timing header (for benchmarks and
    tests); metrics without a duration are left out."""
    timings = {}
    for metric in header.split(","):
        name, *params = (part.strip() for part in metric.split(";"))
        for param in params:
            if param.startswith("dur="):
                timings[name] = float(param[4:])
    return timings
