"""Benchmark 3: 50 people submit their recorded video at the same moment,
while the vendor (the sandbox's Juhe, in a gunicorn of its own) takes 3 s to
answer each call. Measures the time until all 50 have an outcome, the
latency of every web request meanwhile (the uploads and the pages' status
polls, every 2 s as recorder.js does), and counts lost or doubly-submitted
attempts (target: none).

    .venv/bin/python bench/concurrent_videos.py [--people 50] [--workers 2] [--threads 16] [--latency 3] [--clip webm|mp4]

The clip is what a MediaRecorder uploads (6 s, at the recorder's bitrate):
with --clip webm Firefox's VP9 + Opus (480×640), which every upload must be
transcoded from; with --clip mp4 a phone's H.264 + AAC (Safari, Android
Chrome), which is remuxed; with --clip desktop desktop Chromium's H.264 +
Opus in Matroska (640×480), whose picture is copied and sound made AAC. Each person's copy is remuxed with its own
title so no two files are the same (a repeated file is refused as a replay).
The task workers run at nice 10 (bench/portal.py).
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import av
import redis
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.portal import running_portal  # noqa: E402
from bench.video_pipeline import make_clip  # noqa: E402

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
POLL_SECONDS = 0.5  # as static/js/recorder.js while an outcome is due
# The clips' length (make_clip) and a little: the portal refuses a clip
# longer than the time since its challenge was shown.
RECORDING_SECONDS = 6.2
OUTCOMES = {"passed", "failed", "error", "expired"}


def personal_copies(clip: Path, folder: Path, count: int) -> list[Path]:
    copies = []
    for number in range(count):
        copy = folder / f"person-{number}{clip.suffix}"
        muxer = {"mkv": "matroska"}.get(clip.suffix[1:], clip.suffix[1:])
        with av.open(str(clip)) as source, av.open(str(copy), "w", format=muxer) as target:
            target.metadata["title"] = f"person {number}"
            streams = {s.index: target.add_stream_from_template(s) for s in source.streams}
            for packet in source.demux():
                if packet.dts is None:
                    continue
                packet.stream = streams[packet.stream.index]
                target.mux(packet)
        copies.append(copy)
    return copies


class Person(threading.Thread):
    def __init__(self, portal, token, video, go, latencies):
        super().__init__(daemon=True)
        self.portal, self.token, self.video, self.go, self.latencies = portal, token, video, go, latencies
        self.browser = requests.Session()
        self.outcome = None
        self.finished_at = None
        self.failure = None

    def timed(self, method, path, **kwargs):
        started = time.perf_counter()
        answer = self.browser.request(method, f"{self.portal.url}/v/{self.token}/{path}", timeout=60, **kwargs)
        self.latencies.append((path.split("?")[0], (time.perf_counter() - started) * 1000, answer.status_code))
        return answer

    def run(self):
        try:
            self.timed("POST", "consent")
            self.timed("POST", "challenge").raise_for_status()
            self.go.wait()
            with self.video.open("rb") as file:
                answer = self.timed("POST", "video", files={"video": (self.video.name, file, f"video/{self.video.suffix[1:]}")},
                                    data={"capture": "recorder"})
            if answer.status_code != 202:
                self.failure = f"upload answered {answer.status_code}: {answer.text[:200]}"
                return
            while True:
                time.sleep(POLL_SECONDS)
                status = self.timed("GET", "status").json()["status"]
                if status in OUTCOMES:
                    self.outcome, self.finished_at = status, time.perf_counter()
                    return
        except Exception as error:  # noqa: BLE001 - a benchmark reports, it does not stop
            self.failure = repr(error)


def percentile(values, share):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(share * (len(values) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2, help="task worker processes")
    parser.add_argument("--threads", type=int, default=16,
                        help="tasks each worker runs at once (a video task mostly waits for the vendor)")
    parser.add_argument("--latency", type=float, default=3.0)
    parser.add_argument("--clip", choices=["webm", "mp4", "desktop"], default="webm",
                        help="webm: Firefox's VP9 + Opus (transcoded); mp4: a phone's H.264 + AAC (remuxed); "
                             "desktop: desktop Chromium's H.264 + Opus in Matroska (picture copied, sound made AAC)")
    arguments = parser.parse_args()
    redis.Redis.from_url(REDIS_URL).flushdb()
    env = {"REDIS_URL": REDIS_URL, "SANDBOX_LATENCY_SECONDS": str(arguments.latency)}
    with tempfile.TemporaryDirectory() as scratch, running_portal(
            workers=arguments.workers, worker_threads=arguments.threads, extra_env=env) as portal:
        clip = Path(scratch) / ("desktop.mkv" if arguments.clip == "desktop" else f"recording.{arguments.clip}")
        make_clip(clip)
        videos = personal_copies(clip, Path(scratch), arguments.people)
        # One synthetic scene for everyone: within one API client the portal
        # refuses the second person's copy as a replay (its frames'
        # fingerprint), so each person comes through a client of their own.
        os.environ.update(portal.env)
        import django

        django.setup()
        from verification.models import ApiClient

        keys = [ApiClient.issue(name=f"bench-person-{n}")[1] for n in range(arguments.people)]
        tokens = []
        for number in range(arguments.people):
            created = requests.post(f"{portal.url}/api/v1/sessions", timeout=60,
                                    headers={"Authorization": f"Bearer {keys[number]}"},
                                    json={"method": "juhe_video", "external_ref": f"bench-{number}",
                                          "options": {"liveness_type": 1}})
            created.raise_for_status()
            tokens.append(created.json()["url"].rstrip("/").rsplit("/", 1)[1])
        go = threading.Event()
        latencies = []
        people = [Person(portal, token, video, go, latencies) for token, video in zip(tokens, videos)]
        for person in people:
            person.start()
        # Everyone has consented and holds a challenge, and has had the time
        # to record the clip (a clip longer than its challenge's age is refused).
        time.sleep(RECORDING_SECONDS)
        latencies.clear()
        cpu_before = portal.cpu_seconds()
        started = time.perf_counter()
        go.set()
        for person in people:
            person.join(timeout=600)
        ended = max((p.finished_at for p in people if p.finished_at), default=time.perf_counter())
        cpu_after = portal.cpu_seconds()

        from django.db.models import Count

        from verification.models import Submission, VendorCall, VerificationSession

        calls = VendorCall.objects.filter(endpoint="face_vedio/verify")
        # A call the open breaker refused never left: it is not a send.
        sends = calls.exclude(error__startswith="CircuitOpen").values("session").annotate(n=Count("id"))
        outcomes = VerificationSession.objects.values_list("status", flat=True)
        all_ms = [ms for _path, ms, _status in latencies]
        summary = {
            "setup": f"{arguments.people} people, {arguments.clip} clips, vendor latency {arguments.latency} s, "
                     f"{arguments.workers} task workers × {arguments.threads} threads (nice 10), "
                     "gunicorn 2 × 8 threads, PostgreSQL, Redis, 2 cores",
            "seconds_until_all_have_an_outcome": round(ended - started, 1),
            "outcomes": {status: list(outcomes).count(status) for status in set(outcomes)},
            "cpu_seconds_meanwhile": {part: round(cpu_after[part] - cpu_before.get(part, 0.0), 1) for part in cpu_after},
            "web_requests": len(all_ms),
            "web_p50_ms": round(statistics.median(all_ms), 1),
            "web_p99_ms": round(percentile(all_ms, 0.99), 1),
            "upload_p99_ms": round(percentile([ms for path, ms, _ in latencies if path == "video"], 0.99), 1),
            "status_poll_p99_ms": round(percentile([ms for path, ms, _ in latencies if path == "status"], 0.99), 1),
            "web_5xx": sum(status >= 500 for _p, _ms, status in latencies),
            "lost": sum(p.outcome is None for p in people),
            "vendor_sends": sum(row["n"] for row in sends),
            "sessions_sent_twice": sum(row["n"] > 1 for row in sends),
            "vendor_calls_timed_out": calls.filter(error__contains="Timeout").count(),
            "calls_refused_by_the_breaker": calls.filter(error__startswith="CircuitOpen").count(),
            "submissions": Submission.objects.count(),
            "failures": [p.failure for p in people if p.failure][:5],
        }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
