"""Benchmark 1: the portal's own CPU per H5 step, against a bare Django view.

A production-like portal (bench/portal.py: gunicorn with gunicorn.conf.py,
2 processes × 8 threads, PostgreSQL, Redis, DEBUG off, one task worker that
fetches the passes' face photos), with Jumdata played by the sandbox in a
gunicorn of its own, and a bare Django template view under the same
gunicorn setup (bench/bare_site.py), all on the same cores. Several short
rounds; in each, wrk drives one after the other:

  - bare:    GET / of the bare view, the yardstick;
  - start:   POST /v/<token>/h5/start on consented sessions: the portal
             calls Jumdata `init` and redirects to the vendor page;
  - return:  GET /v/<token>/h5/return once the sandbox page was "passed":
             the portal calls `result`, records the outcome and redirects;
             the worker then stores the face photo (waited for, counted).

Counted, per request: the CPU of the portal's processes (web and task
worker) against the bare view's CPU per request in the same round; the
target is at most 4x. The emulated vendor, PostgreSQL and Redis are
reported beside, not counted. Also per request, the portal's own time as
its Server-Timing header says (`app`, and `db`), under the same load, and,
after the rounds, where a step's CPU goes (PARTS, measured in-process).
Median and spread (min-max) over the rounds: a shared machine's speed
drifts between rounds, and a ratio within one round drifts less.

    .venv/bin/python bench/h5_load.py [--rounds 5] [--seconds 5] [--connections 16]

Needs wrk (`apt-get install wrk`), PostgreSQL and Redis on 127.0.0.1.
BENCH_REDIS_URL (default redis://127.0.0.1:6379/14) is emptied first.
"""

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.portal import GUNICORN, ROOT, cpu_seconds_of, free_port, running_portal  # noqa: E402

PATHS_SCRIPT = Path(__file__).resolve().parent / "wrk" / "paths.lua"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
THREADS = 2


def wrk(url: str, paths: list[str], *, method="GET", body: str | None = None, seconds: int, connections: int) -> dict:
    threads = min(THREADS, connections)  # wrk wants a connection per thread at least
    with tempfile.TemporaryDirectory() as folder:
        paths_file = Path(folder) / "paths"
        paths_file.write_text("\n".join(paths) + "\n")
        env = {**os.environ, "PATHS_FILE": str(paths_file), "METHOD": method, "WRK_THREADS": str(threads)}
        if body is not None:
            (Path(folder) / "body").write_text(body)
            env["BODY_FILE"] = str(Path(folder) / "body")
        done = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(PATHS_SCRIPT), url],
            env=env, capture_output=True, text=True, check=True,
        )
    result = json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])
    result["per_second"] = round(result["requests"] / result["seconds"], 1)
    return result


def consented_sessions(count: int) -> list[str]:
    from django.utils import timezone

    from verification.models import ApiClient, VerificationSession

    client = ApiClient.objects.get(name="bench")
    sessions = VerificationSession.objects.bulk_create(
        VerificationSession(client=client, method="h5", external_ref=f"bench-{n}", consent_at=timezone.now(),
                            consent_version="bench", max_attempts=3)
        for n in range(count)
    )
    return [session.link_token for session in sessions]


def wait_for_face_downloads(limit: float = 300) -> float:
    """Seconds until the worker has stored the face photo of every pass."""
    from verification.models import VerificationSession

    started = time.monotonic()
    while VerificationSession.objects.filter(status="passed", face_image="").exists():
        if time.monotonic() - started > limit:
            raise RuntimeError("the worker did not store every face photo in time")
        time.sleep(0.5)
    return round(time.monotonic() - started, 1)


def sandbox_signature() -> dict:
    from sandbox import credentials

    timestamp = str(int(time.time() * 1000))
    sign = hashlib.sha256(f"{credentials.JUMDATA_APP_ID}{credentials.JUMDATA_APP_SECRET}{timestamp}".encode()).hexdigest()
    return {"appId": credentials.JUMDATA_APP_ID, "timestamp": timestamp, "sign": sign}


def form(fields: dict) -> str:
    from urllib.parse import urlencode

    return urlencode(fields)


def idle_rates(cpu_seconds, seconds: float = 2.0) -> dict:
    """CPU seconds per second each role uses with no request coming (the
    worker's polling, gunicorn's heartbeats): taken off what a run cost."""
    before, started = cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    after, elapsed = cpu_seconds(), time.monotonic() - started
    return {role: (after[role] - before.get(role, 0.0)) / elapsed for role in after}


def with_cpu(run, cpu_seconds, idle=None) -> dict:
    """`run`'s wrk result, with the CPU milliseconds each request cost each
    part of the machine (wrk's own not counted), less each part's idle use
    over the same time when `idle` rates are given."""
    before, started = cpu_seconds(), time.monotonic()
    result = run()
    after, elapsed = cpu_seconds(), time.monotonic() - started
    idle = idle or {}
    result["cpu_ms_per_request"] = {
        part: round(max(0.0, after[part] - before.get(part, 0.0) - idle.get(part, 0.0) * elapsed) * 1000
                    / max(result["requests"], 1), 3)
        for part in after
    }
    result["cpu_ms_per_request"]["all"] = round(sum(result["cpu_ms_per_request"].values()), 2)
    return result


@contextlib.contextmanager
def bare_site():
    """The bare view's gunicorn, up for the whole run: its URL and pid."""
    port = free_port()
    env = {**os.environ, "PORT": str(port), "WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "8", "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([GUNICORN, "-c", "gunicorn.conf.py", "--access-logfile", "/dev/null", "bench.bare_site:application"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                requests.get(url, timeout=5)
                break
            except requests.RequestException:  # still starting (a loaded machine is slow to)
                time.sleep(0.2)
        yield url, server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)


COUNTED = ("portal", "workers")  # the portal's own processes: web and task worker

# Where a step's CPU goes: the request thread's CPU inside each of these,
# in-process (Django's test client through every middleware, against the
# same database and emulated vendor). Nested: the vendor's HTTP exchange is
# inside its client's call, which is inside the step's service.
EVERY_STEP_PARTS = (
    ("django.db.models.query", "QuerySet.first",
     "first(): the session behind the link with its client, and any other"),
    ("verification.web.steps", "public_rate_wait", "the address's rate limit (Redis)"),
)
VENDOR_EXCHANGE = ("verification.vendors.transport", "vendor_call.send", "    of which the HTTP exchange (requests)")
PARTS = {
    "h5_start": (
        *EVERY_STEP_PARTS,
        ("verification.services.hosted", "session_start_hosted", "the service: everything below"),
        ("verification.services.hosted", "begin_attempt", "  the attempt's lease (one conditional UPDATE)"),
        ("verification.vendors.jumdata", "JumdataClient.init", "  Jumdata init: signed, sent, read, recorded"),
        VENDOR_EXCHANGE,
        ("verification.services.hosted", "_keep_start", "  the token kept, the reconciliation queued"),
    ),
    "h5_return": (
        *EVERY_STEP_PARTS,
        ("verification.services.hosted", "session_returned", "the service: everything below"),
        ("verification.vendors.jumdata", "JumdataClient.fetch_result", "  Jumdata result: signed, sent, read, recorded"),
        VENDOR_EXCHANGE,
        ("verification.services.hosted", "finish", "  the outcome recorded, the face photo's task queued"),
    ),
}


@contextlib.contextmanager
def thread_cpu_inside(parts):
    """Wraps each (module, "Class.function" or "function", label) so that
    the calling thread's CPU inside it is summed under its label."""
    import importlib

    spent, undo = {label: 0.0 for _, _, label in parts}, []
    for module_name, dotted, label in parts:
        owner = importlib.import_module(module_name)
        *classes, name = dotted.split(".")
        for class_name in classes:
            owner = getattr(owner, class_name)
        original = owner.__dict__[name]

        def wrapped(*args, _original=original, _label=label, **kwargs):
            started = time.thread_time()
            try:
                return _original(*args, **kwargs)
            finally:
                spent[_label] += time.thread_time() - started

        setattr(owner, name, wrapped)
        undo.append((owner, name, original))
    try:
        yield spent
    finally:
        for owner, name, original in undo:
            setattr(owner, name, original)


def step_parts(count: int = 200) -> dict:
    """Milliseconds of the request thread's CPU per h5/start and h5/return,
    and inside each part of it (PARTS), in this process."""
    from django.test import Client

    from sandbox.models import JumdataTask

    browser = Client(HTTP_HOST="127.0.0.1")
    tokens = consented_sessions(count)
    steps = {"h5_start": lambda token: browser.post(f"/v/{token}/h5/start"),
             "h5_return": lambda token: browser.get(f"/v/{token}/h5/return")}
    found = {}
    for step, send in steps.items():
        if step == "h5_return":
            JumdataTask.objects.filter(outcome="").update(outcome="pass")
        with thread_cpu_inside(PARTS[step]) as spent:
            started = time.thread_time()
            for token in tokens:
                assert send(token).status_code == 302
            whole = time.thread_time() - started
        found[step] = {"whole request (test client, every middleware)": round(whole * 1000 / count, 3),
                       **{label: round(seconds * 1000 / count, 3) for label, seconds in spent.items()}}
    return found


def portal_ms(run: dict) -> float:
    return round(sum(run["cpu_ms_per_request"].get(role, 0.0) for role in COUNTED), 3)


def spread(values) -> dict:
    values = list(values)
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5, help="each wrk run of each round")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--sessions", type=int, default=2500, help="consented sessions made for each round")
    arguments = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk")
    redis.Redis.from_url(REDIS_URL).flushdb()
    load = {"seconds": arguments.seconds, "connections": arguments.connections}

    rounds = []
    # One task worker (nice 10) stores the face photos of the passes, as in
    # production; its CPU is the portal's, so each round waits for it.
    with bare_site() as (bare_url, bare_pid), running_portal(workers=1, extra_env={"REDIS_URL": REDIS_URL}) as portal:
        os.environ.update(portal.env)
        import django

        django.setup()
        from sandbox.models import JumdataTask
        from verification.models import VerificationSession

        # Warm every process (imports, connections) before anything is counted.
        wrk(bare_url, ["/"] * 100_000, seconds=1, connections=arguments.connections)
        warm = consented_sessions(200)
        wrk(portal.url, [f"/v/{t}/h5/start" for t in warm], method="POST", seconds=1, connections=4)

        def both_cpu():
            return {**portal.cpu_seconds(), **cpu_seconds_of({bare_pid: "bare view"})}

        for number in range(arguments.rounds):
            idle = idle_rates(both_cpu)
            bare = with_cpu(lambda: wrk(bare_url, ["/"] * 1_000_000, **load), both_cpu, idle)
            tokens = consented_sessions(arguments.sessions)
            start = with_cpu(lambda: wrk(portal.url, [f"/v/{t}/h5/start" for t in tokens], method="POST", **load),
                             both_cpu, idle)
            started = list(VerificationSession.objects.filter(link_token__in=tokens).exclude(vendor_token="")
                           .values_list("link_token", flat=True))
            # The person presses "pass" on the sandbox page (not part of what is measured).
            JumdataTask.objects.filter(outcome="").update(outcome="pass")

            def back_and_faces():
                run = wrk(portal.url, [f"/v/{t}/h5/return" for t in started], **load)
                run["seconds_until_faces_stored"] = wait_for_face_downloads()
                return run

            back = with_cpu(back_and_faces, both_cpu, idle)
            bare_ms = bare["cpu_ms_per_request"]["bare view"]
            rounds.append({
                "round": number + 1,
                "bare_view": bare, "h5_start": start, "h5_return": back,
                "bare_cpu_ms": bare_ms,
                "start_portal_cpu_ms": portal_ms(start), "return_portal_cpu_ms": portal_ms(back),
                "start_ratio": round(portal_ms(start) / bare_ms, 2), "return_ratio": round(portal_ms(back) / bare_ms, 2),
                "thread_cpu_ms": {name: run["server_timing"]["cpu_mean_ms"]
                                  for name, run in (("bare", bare), ("start", start), ("return", back))},
            })
            threads_ms = rounds[-1]["thread_cpu_ms"]
            rounds[-1]["thread_cpu_ratio"] = {step: round(threads_ms[step] / max(threads_ms["bare"], 1e-6), 2)
                                              for step in ("start", "return")}
            print(json.dumps({k: v for k, v in rounds[-1].items() if not isinstance(v, dict)}), file=sys.stderr)
        parts = step_parts()

    def beside(step, role):
        return spread(r[step]["cpu_ms_per_request"].get(role, 0.0) for r in rounds)

    summary = {
        "setup": "gunicorn 2 processes × 8 threads (portal and bare view alike), PostgreSQL, Redis, DEBUG off, "
                 f"one task worker; wrk {THREADS} threads × {arguments.connections} connections on the same cores; "
                 f"{arguments.rounds} rounds of {arguments.seconds} s per step",
        "target": "portal CPU (web + worker) per request <= 4x the bare view's",
        "bare_view_cpu_ms": spread(r["bare_cpu_ms"] for r in rounds),
        "bare_view_request_thread_cpu_ms": spread(r["thread_cpu_ms"]["bare"] for r in rounds),
        "h5_start": {
            "portal_cpu_ms": spread(r["start_portal_cpu_ms"] for r in rounds),
            "ratio_to_bare": spread(r["start_ratio"] for r in rounds),
            "per_second": spread(r["h5_start"]["per_second"] for r in rounds),
            "request_thread_cpu_ms": spread(r["thread_cpu_ms"]["start"] for r in rounds),
            "request_thread_cpu_ratio_to_bare": spread(r["thread_cpu_ratio"]["start"] for r in rounds),
            "server_timing_app_p50_ms": spread(r["h5_start"]["server_timing"]["app_p50_ms"] for r in rounds),
            "server_timing_app_p95_ms": spread(r["h5_start"]["server_timing"]["app_p95_ms"] for r in rounds),
            "server_timing_db_mean_ms": spread(r["h5_start"]["server_timing"]["db_mean_ms"] for r in rounds),
            "beside_vendor_cpu_ms": beside("h5_start", "vendors"),
            "beside_postgres_cpu_ms": beside("h5_start", "postgres"),
            "beside_redis_cpu_ms": beside("h5_start", "redis"),
        },
        "h5_return": {
            "portal_cpu_ms": spread(r["return_portal_cpu_ms"] for r in rounds),
            "ratio_to_bare": spread(r["return_ratio"] for r in rounds),
            "per_second": spread(r["h5_return"]["per_second"] for r in rounds),
            "request_thread_cpu_ms": spread(r["thread_cpu_ms"]["return"] for r in rounds),
            "request_thread_cpu_ratio_to_bare": spread(r["thread_cpu_ratio"]["return"] for r in rounds),
            "server_timing_app_p50_ms": spread(r["h5_return"]["server_timing"]["app_p50_ms"] for r in rounds),
            "server_timing_app_p95_ms": spread(r["h5_return"]["server_timing"]["app_p95_ms"] for r in rounds),
            "server_timing_db_mean_ms": spread(r["h5_return"]["server_timing"]["db_mean_ms"] for r in rounds),
            "worker_cpu_ms": beside("h5_return", "workers"),
            "beside_vendor_cpu_ms": beside("h5_return", "vendors"),
            "beside_postgres_cpu_ms": beside("h5_return", "postgres"),
            "beside_redis_cpu_ms": beside("h5_return", "redis"),
        },
        "request_thread_cpu_ms_inside": parts,
        "errors": sum(r[s]["errors"] + r[s]["non_2xx_3xx"] for r in rounds for s in ("h5_start", "h5_return")),
        "load_average_at_end": os.getloadavg(),
        "rounds": rounds,
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
