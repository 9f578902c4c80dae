"""Benchmark 4: the vendor falls over while people verify. People go
through the H5 flow without pause (start, the sandbox page's "pass",
return) while the sandbox's Jumdata first answers 30 % of calls with a 503
page for a minute, then hangs past the portal's read timeout for a minute,
then recovers. Then the task workers finish what was left to collect.

Counts, at the end: sessions in a final state, in a retryable error, and
anything else (target: nothing else); the breaker's state over time (it
must open, and close again once the vendor is back); billed calls made
more than once for one attempt (target: none).

    .venv/bin/python bench/vendor_faults.py [--fault-seconds 60] [--people 4]
"""

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import redis
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.portal import running_portal  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/12"
FINAL = {"passed", "failed", "expired"}


def person(portal, stop: threading.Event, counts: dict, lock: threading.Lock):
    """One person after another on this thread, as long as the benchmark runs."""
    while not stop.is_set():
        created = portal.api("POST", "/api/v1/sessions", {"method": "h5", "external_ref": "bench-faults"})
        token = created.json()["url"].rstrip("/").rsplit("/", 1)[1]
        browser = requests.Session()
        try:
            browser.post(f"{portal.url}/v/{token}/consent", timeout=60)
            start = browser.post(f"{portal.url}/v/{token}/h5/start", timeout=60, allow_redirects=False)
            vendor_page = start.headers.get("Location", "")
            if "token=" in vendor_page:
                browser.post(f"{portal.vendor_url}/sandbox/jumdata/h5/finish",
                             data={"token": vendor_page.split("token=")[1], "outcome": "pass"}, timeout=60)
                # (the sandbox's finish redirects to h5/return: followed above)
            with lock:
                counts["tried"] += 1
        except requests.RequestException:
            with lock:
                counts["client_errors"] += 1


def watch_breaker(stop: threading.Event, timeline: list, started: float):
    client = redis.Redis.from_url(REDIS_URL)
    last = None
    while not stop.is_set():
        open_until = client.get(":1:breaker:jumdata:open_until")
        state = "closed"
        if open_until is not None:
            import pickle

            state = "open" if time.time() < pickle.loads(open_until) else "half_open"
        if state != last:
            timeline.append((round(time.perf_counter() - started, 1), state))
            last = state
        time.sleep(0.25)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fault-seconds", type=int, default=60)
    parser.add_argument("--people", type=int, default=4, help="people verifying at once, one after another")
    arguments = parser.parse_args()
    redis.Redis.from_url(REDIS_URL).flushdb()
    with running_portal(workers=2, extra_env={"REDIS_URL": REDIS_URL}) as portal:
        stop, lock = threading.Event(), threading.Lock()
        counts = {"tried": 0, "client_errors": 0}
        timeline = []
        started = time.perf_counter()
        threads = [threading.Thread(target=person, args=(portal, stop, counts, lock), daemon=True)
                   for _ in range(arguments.people)]
        threads.append(threading.Thread(target=watch_breaker, args=(stop, timeline, started), daemon=True))
        for thread in threads:
            thread.start()
        trouble = f"{portal.vendor_url}/sandbox/trouble"
        time.sleep(10)  # a calm start
        requests.post(trouble, data={"error_rate": "0.3", "seconds": str(arguments.fault_seconds)}, timeout=10)
        time.sleep(arguments.fault_seconds)
        requests.post(trouble, data={"hang_seconds": "20", "seconds": str(arguments.fault_seconds)}, timeout=10)
        time.sleep(arguments.fault_seconds)
        requests.post(trouble, data={"seconds": "0"}, timeout=10)
        # The vendor is back. A probe sent just before fails at the read
        # timeout (15 s), the breaker stays open 30 s more, then probes and closes.
        time.sleep(60)
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
        time.sleep(30)  # the workers' quick polls collect what the browsers could not

        import os

        os.environ.update(portal.env)
        import django

        django.setup()
        from django.db.models import Count, Q

        from verification.models import VendorCall, VerificationSession

        sessions = VerificationSession.objects.filter(consent_at__isnull=False)
        final = sessions.filter(status__in=FINAL).count()
        retryable = sessions.filter(status="error", retryable=True).count()
        collecting = sessions.filter(status__in=("in_progress", "processing"), vendor_token__gt="").count()
        other = sessions.count() - final - retryable - collecting
        billed = sessions.annotate(
            billed_inits=Count("vendor_calls", filter=Q(vendor_calls__endpoint="init", vendor_calls__billed=True)),
            billed_results=Count("vendor_calls", filter=Q(vendor_calls__endpoint="result", vendor_calls__billed=True)),
        )
        repeated = sum(s.billed_inits > s.attempts_used or s.billed_results > s.attempts_used for s in billed)
        calls = VendorCall.objects.filter(vendor="jumdata")
        summary = {
            "setup": f"{arguments.people} people at once, one after another; 30 % 503s for {arguments.fault_seconds} s, "
                     f"then hangs of 20 s (read timeout 15 s) for {arguments.fault_seconds} s; 2 task workers",
            "sessions": sessions.count(),
            "final": final,
            "retryable_error": retryable,
            "still_collecting_with_a_queued_poll": collecting,
            "anything_else": other,
            "breaker_timeline_s": timeline,
            "jumdata_calls": calls.count(),
            "calls_refused_by_the_breaker": calls.filter(error__startswith="CircuitOpen").count(),
            "billed_calls_repeated_within_an_attempt": repeated,
            "client_errors": counts["client_errors"],
        }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
