"""Benchmark 1: the H5 flow under load, on loopback, with wrk.

A production-like portal (bench/portal.py: gunicorn with gunicorn.conf.py,
2 processes × 8 threads, PostgreSQL, Redis, DEBUG off, one task worker that
fetches the passes' face photos), with Jumdata played by the sandbox in a
gunicorn of its own, on the same 2 cores. wrk drives, side by side in one run:

  - bare:    a bare Django template view under the same gunicorn setup
             (bench/bare_site.py), the yardstick;
  - start:   POST /v/<token>/h5/start on consented sessions — the portal
             calls Jumdata `init` and redirects to the vendor page;
  - return:  GET /v/<token>/h5/return once the sandbox page was "passed" —
             the portal calls `result`, keeps the face and redirects;
  - init and result made to the sandbox vendor directly, so the portal's
    own added latency is the difference.

    .venv/bin/python bench/h5_load.py [--sessions 4000] [--seconds 20] [--connections 32]

Needs wrk (`apt-get install wrk`), PostgreSQL and Redis on 127.0.0.1.
"""

import argparse
import hashlib
import json
import os
import shutil
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
REDIS_URL = "redis://127.0.0.1:6379/14"
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


def with_cpu(run, cpu_seconds) -> dict:
    """`run`'s wrk result, with the CPU milliseconds each request cost each
    part of the machine (wrk's own not counted)."""
    before = cpu_seconds()
    result = run()
    after = cpu_seconds()
    result["cpu_ms_per_request"] = {
        part: round((after[part] - before.get(part, 0.0)) * 1000 / max(result["requests"], 1), 2) for part in after
    }
    result["cpu_ms_per_request"]["all"] = round(sum(result["cpu_ms_per_request"].values()), 2)
    return result


def bare_site(*, seconds: int, connections: int) -> dict:
    port = free_port()
    env = {**os.environ, "PORT": str(port), "WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "8", "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([GUNICORN, "-c", "gunicorn.conf.py", "--access-logfile", "/dev/null", "bench.bare_site:application"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                requests.get(url, timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        return with_cpu(lambda: wrk(url, ["/"] * 1_000_000, seconds=seconds, connections=connections),
                        lambda: cpu_seconds_of({server.pid: "bare view"}))
    finally:
        server.terminate()
        server.wait(timeout=30)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=4000)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32)
    arguments = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk")
    redis.Redis.from_url(REDIS_URL).flushdb()
    load = {"seconds": arguments.seconds, "connections": arguments.connections}

    bare = bare_site(**load)
    # One task worker (nice 10) fetches the face photos of the passes while
    # the load runs, as in production; it is waited for before the latency runs.
    with running_portal(workers=1, extra_env={"REDIS_URL": REDIS_URL}) as portal:
        os.environ.update(portal.env)
        import django

        django.setup()
        from sandbox.models import JumdataTask
        from verification.models import VerificationSession

        # Throughput: as many connections as the load asks; each session is used once.
        tokens = consented_sessions(arguments.sessions)
        start = with_cpu(lambda: wrk(portal.url, [f"/v/{t}/h5/start" for t in tokens], method="POST", **load),
                         portal.cpu_seconds)
        started = list(VerificationSession.objects.exclude(vendor_token="").values_list("link_token", flat=True))
        # The person presses "pass" on the sandbox page (not part of what is measured).
        JumdataTask.objects.filter(outcome="").update(outcome="pass")
        back = with_cpu(lambda: wrk(portal.url, [f"/v/{t}/h5/return" for t in started], **load), portal.cpu_seconds)
        passed = VerificationSession.objects.filter(status="passed").count()

        init_body = form({**sandbox_signature(), "returnUrl": f"{portal.url}/v/x/h5/return"})
        token = JumdataTask.objects.filter(outcome="pass").values_list("token", flat=True).first()
        result_body = form({**sandbox_signature(), "token": token})
        many = 1_000_000

        def vendor_direct(endpoint, body, **how):
            return wrk(portal.vendor_url, [f"/sandbox/jumdata/lifecheck/h5/v2/{endpoint}"] * many, method="POST",
                       body=body, **how)

        direct_init = with_cpu(lambda: vendor_direct("init", init_body, **load), portal.cpu_seconds)
        direct_result = with_cpu(lambda: vendor_direct("result", result_body, **load), portal.cpu_seconds)

        faces_stored_under_load = VerificationSession.objects.exclude(face_image="").count()
        faces_drained_after = wait_for_face_downloads()

        # Latency: one request at a time, so each figure is the work of one request, not a queue.
        quiet = {"seconds": max(5, arguments.seconds // 2), "connections": 1}
        tokens = consented_sessions(arguments.sessions)
        start_quiet = wrk(portal.url, [f"/v/{t}/h5/start" for t in tokens], method="POST", **quiet)
        JumdataTask.objects.filter(outcome="").update(outcome="pass")
        fresh = VerificationSession.objects.filter(status="in_progress").values_list("link_token", flat=True)
        back_quiet = wrk(portal.url, [f"/v/{t}/h5/return" for t in fresh], **quiet)
        init_quiet = vendor_direct("init", init_body, **quiet)
        result_quiet = vendor_direct("result", result_body, **quiet)

    def added(portal_run, vendor_run):
        return {f"{p}_ms": round(portal_run[f"{p}_ms"] - vendor_run[f"{p}_ms"], 2) for p in ("p50", "p95", "p99")}

    sessions_per_second = 1 / (1 / start["per_second"] + 1 / back["per_second"])
    summary = {
        "setup": "gunicorn 2 processes × 8 threads, PostgreSQL, Redis, DEBUG off; wrk "
                 f"{THREADS} threads × {arguments.connections} connections on the same 2 cores",
        "bare_view": bare,
        "h5_start": start,
        "h5_return": back,
        "sandbox_init_direct": direct_init,
        "sandbox_result_direct": direct_result,
        "sessions_started": len(started),
        "sessions_passed": passed,
        "sessions_per_second": round(sessions_per_second, 1),
        "face_photos_stored_during_the_load": faces_stored_under_load,
        "seconds_until_every_face_photo_was_stored": faces_drained_after,
        "start_throughput_vs_bare": round(start["per_second"] / bare["per_second"], 3),
        "return_throughput_vs_bare": round(back["per_second"] / bare["per_second"], 3),
        "one_at_a_time": {"h5_start": start_quiet, "h5_return": back_quiet, "sandbox_init": init_quiet,
                          "sandbox_result": result_quiet},
        "portal_added_latency_start": added(start_quiet, init_quiet),
        "portal_added_latency_return": added(back_quiet, result_quiet),
        "portal_added_latency_start_under_load": added(start, direct_init),
        "portal_added_latency_return_under_load": added(back, direct_result),
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
