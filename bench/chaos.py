"""Benchmark 7: our own machinery fails while people verify. A steady
stream of people goes through every method the sandbox emulates (the H5
page, recorded videos, a photo; the vendors answer after --latency seconds)
while, one at a time:

1. a task worker is SIGKILLed while it waits for a vendor's (billed) answer;
2. a web process is SIGKILLed while uploads are streaming in;
3. PostgreSQL is restarted;
4. Redis is stopped for 30 s;
5. the media volume (a small tmpfs) is filled until uploads fail, then
   freed (the operator's step, docs/operations.md);
6. with MEDIA_STORAGE=s3, the S3 server (moto) is cut off for 30 s.

Everything it breaks is its own: a private PostgreSQL (initdb into a
temporary folder), a private Redis, a tmpfs for the media, moto behind a
proxy the benchmark cuts; the vendors' emulator keeps its state in a
database of the shared server (BENCH_VENDOR_DATABASE_URL). Task workers
are restarted when they die, as a process manager does (systemd's
Restart=always, compose's restart: unless-stopped); gunicorn replaces a
killed web process itself. Run as root (tmpfs, initdb under `postgres`).

Per fault and in total: sessions started, lost (an acknowledged step that
never led to an outcome), stuck in a non-final state after recovery, billed
calls repeated (the vendor's own access log against the submissions sent),
uploads acknowledged and then lost (a 202 whose file is not in storage), the
time from the fault to each affected person seeing an outcome or a retry
(p50/p99), what people were shown meanwhile, /readyz over time, and the
portal's log lines about the fault.

    .venv/bin/python bench/chaos.py [--people 3] [--latency 2] [--only worker_kill,pg_restart] [--json out.json]
"""

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.concurrent_videos import RECORDING_SECONDS  # noqa: E402
from bench.portal import KEY, fresh_database, stop_processes, wait_until_up  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
# Ports: the portal and its helpers in 8170-8179; the private servers apart.
PORTAL_PORT, VENDOR_PORT, S3_PROXY_PORT, MOTO_PORT = 8170, 8171, 8172, 8173
PG_PORT, REDIS_PORT = int(os.environ.get("CHAOS_PG_PORT", 55419)), int(os.environ.get("CHAOS_REDIS_PORT", 56319))
VENDOR_DATABASE = os.environ.get("BENCH_VENDOR_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kyc_h19")
PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), Path("/usr/bin"))
IDCARD, REALNAME = "11010519491231002X", "张三"
METHODS = ["h5", "juhe_video", "tencent_lip", "tencent_idcard", "juhe_video_auth", "tencent_photo"]
NEEDS_IDENTITY = {"tencent_idcard", "juhe_video_auth"}
FINAL = {"passed", "failed", "expired", "cancelled", "error"}
# The calls a vendor bills, by the path the emulator serves them at.
BILLED_PATHS = ("/juhe/face_vedio/verify", "/juhe/videoAuth/query", "/tencent/face/livedetectfour",
                "/tencent/face/idcardlivedetectfour", "/tencent/face/livedetectpicture")
WORKERS, WORKER_THREADS = 2, 2
SETTLE_SECONDS = 20  # after a fault ends, before the next: what it left behind gets its outcome


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- the servers the benchmark breaks ---------------------------------------------------


class PrivatePostgres:
    """A PostgreSQL of the benchmark's own (never the shared one): trust
    authentication on loopback, no fsync (a benchmark's data)."""

    def __init__(self, folder: Path, port: int):
        self.folder, self.port = folder, port
        self.data, self.log = folder / "data", folder / "postgres.log"
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        folder.mkdir(parents=True)
        if self.as_postgres:
            shutil.chown(folder, "postgres", "postgres")
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/kyc_chaos"

    def _run(self, *command: str) -> None:
        subprocess.run([*self.as_postgres, *command], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def _ctl(self, action: str) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "-m", "fast", action)

    def start(self):
        self._ctl("start")

    def restart(self):
        self._ctl("restart")

    def stop(self):
        with contextlib.suppress(subprocess.CalledProcessError):
            self._ctl("stop")


class PrivateRedis:
    def __init__(self, port: int):
        self.port, self.process = port, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self):
        if self.process:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


class CuttableProxy:
    """A TCP proxy in front of a server: `cut()` closes the listener and
    every connection through it (the server is unreachable, its data kept),
    `mend()` listens again."""

    def __init__(self, port: int, target: int):
        self.port, self.target = port, target
        self.listener, self.connections, self.lock = None, set(), threading.Lock()

    def mend(self):
        self.listener = socket.create_server(("127.0.0.1", self.port), reuse_port=True)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def cut(self):
        self.listener.close()
        with self.lock:
            for connection in self.connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            self.connections.clear()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            with self.lock:
                self.connections.update((client, server))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source, sink):
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)


def wait_for_port(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on {port}") from None
            time.sleep(0.1)


# --- the portal ---------------------------------------------------------------------


@dataclass
class Portal:
    env: dict
    folder: Path
    media: Path
    url: str = f"http://127.0.0.1:{PORTAL_PORT}"
    vendor_url: str = f"http://127.0.0.1:{VENDOR_PORT}"
    web: subprocess.Popen | None = None
    vendors: subprocess.Popen | None = None
    workers: dict = field(default_factory=dict)  # worker id → Popen
    keys: list = field(default_factory=list)
    running: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)
    restarts: list = field(default_factory=list)

    def manage(self, *args, env=None) -> str:
        done = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env or self.env, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr[-3000:]}")
        return done.stdout

    def start_worker(self, worker_id: str) -> None:
        logfile = (self.folder / "logs" / f"{worker_id}.log").open("a")
        self.workers[worker_id] = subprocess.Popen(
            ["nice", "-n", "10", PYTHON, "manage.py", "db_worker", "--interval", "0.5", "--threads", str(WORKER_THREADS),
             "--worker-id", worker_id],
            cwd=ROOT, env=self.env, stdout=logfile, stderr=subprocess.STDOUT,
        )

    def supervise(self) -> None:
        """As a process manager does: a worker that died is started again."""
        while self.running:
            with self.lock:
                for worker_id, process in list(self.workers.items()):
                    if process.poll() is not None and self.running:
                        self.restarts.append((time.time(), worker_id, process.returncode))
                        self.start_worker(worker_id)
            time.sleep(1)

    def web_children(self) -> list[int]:
        return children_of(self.web.pid)

    def stop(self) -> None:
        self.running = False
        stop_processes([p for p in (self.web, self.vendors, *self.workers.values()) if p is not None], seconds=20)


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if int((entry / "stat").read_text().rpartition(")")[2].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def start_portal(folder: Path, *, database: str, redis_url: str, media: Path, latency: float, s3: dict | None) -> Portal:
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    (folder / "tmp").mkdir(exist_ok=True)
    vendors = f"http://127.0.0.1:{VENDOR_PORT}/sandbox"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("KYC_", "JUMDATA_", "TENCENT_", "JUHE_", "DEBUG", "S3_", "MEDIA_"))},
        "DJANGO_SETTINGS_MODULE": "kyc_portal.settings", "DEBUG": "0",
        "SECRET_KEY": "benchmark-only-secret-key-" + "x" * 30, "KYC_FIELD_KEYS": f"bench:{KEY}", "KYC_SEARCH_KEY": KEY,
        "SITE_URL": f"http://127.0.0.1:{PORTAL_PORT}", "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database, "REDIS_URL": redis_url, "MEDIA_ROOT": str(media),
        "STATIC_ROOT": str(folder / "static"), "TMPDIR": str(folder / "tmp"), "PORT": str(PORTAL_PORT),
        "JUMDATA_BASE_URL": f"{vendors}/jumdata", "TENCENT_BASE_URL": f"{vendors}/tencent", "JUHE_BASE_URL": f"{vendors}/juhe",
        "WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "6", "LOG_LEVEL": "WARNING", "LOG_FORMAT": "plain",
        "KYC_RATE_PUBLIC_WRITES": "1000000/60", "KYC_RATE_PUBLIC_READS": "1000000/60", "KYC_RATE_API_SESSIONS": "1000000/60",
        "KYC_MAX_ATTEMPTS_PER_IP_PER_HOUR": "1000000", "KYC_MAX_ATTEMPTS_PER_IDCARD_PER_DAY": "1000000",
        "SANDBOX_LATENCY_SECONDS": str(latency),
    }
    if s3:
        env.update({"MEDIA_STORAGE": "s3", **s3})
    portal = Portal(env=env, folder=folder, media=media)
    # The vendors are another company's servers: none of our faults reaches them.
    vendor_env = {**env, "DATABASE_URL": VENDOR_DATABASE, "REDIS_URL": "", "PORT": str(VENDOR_PORT), "GUNICORN_THREADS": "16",
                  "WEB_CONCURRENCY": "1", "MEDIA_STORAGE": "local", "MEDIA_ROOT": str(folder / "vendor-media")}
    portal.manage("collectstatic", "--noinput", "-v", "0")
    portal.manage("release", "-v", "0")
    fresh_database(VENDOR_DATABASE)
    portal.manage("migrate", "-v", "0", env=vendor_env)
    portal.manage("createcachetable", env=vendor_env)
    # One API client per session: a replay is judged within one client, and
    # every person here uploads the same clip.
    made = portal.manage("shell", "-c", (
        "import re; from io import StringIO; from django.core.management import call_command\n"
        "for n in range(300):\n"
        "    out = StringIO(); call_command('create_api_client', f'chaos-{n}', stdout=out)\n"
        "    print(re.search(r'API key [^:]*: (\\S+)', out.getvalue()).group(1))\n"))
    portal.keys = re.findall(r"^(kyc_test_\S+)$", made, re.MULTILINE)
    if len(portal.keys) < 300:
        raise RuntimeError(f"API clients not made: {made[-500:]}")
    logs = folder / "logs"
    portal.web = subprocess.Popen([GUNICORN, "-c", "gunicorn.conf.py", "--access-logfile", "/dev/null"], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=(logs / "web.log").open("w"))
    portal.vendors = subprocess.Popen(
        ["nice", "-n", "10", GUNICORN, "-c", "gunicorn.conf.py", "--access-logfile", str(logs / "vendor-access.log")],
        cwd=ROOT, env=vendor_env, stdout=subprocess.DEVNULL, stderr=(logs / "vendors.log").open("w"))
    for number in range(WORKERS):
        portal.start_worker(f"chaos-w{number}")
    threading.Thread(target=portal.supervise, daemon=True).start()
    wait_until_up(portal.url)
    wait_until_up(portal.vendor_url)
    return portal


# --- people -------------------------------------------------------------------------


@dataclass
class Trace:
    """One person's session, as they lived it."""
    method: str
    started: float
    session_id: str = ""
    token: str = ""
    acknowledged: float | None = None  # the upload's 202, or the return from the H5 page
    outcome: str = ""
    outcome_at: float | None = None
    retry_allowed: bool = False
    shown: list = field(default_factory=list)  # (time, what the page showed)
    upload_errors: list = field(default_factory=list)  # (time, what went wrong)

    def show(self, what: str) -> None:
        if not self.shown or self.shown[-1][1] != what:
            self.shown.append((time.time(), what))


class People:
    """--people threads, each one person after another, methods in turn."""

    def __init__(self, portal: Portal, clip: bytes, photo: bytes, count: int):
        self.portal, self.clip, self.photo = portal, clip, photo
        self.traces: list[Trace] = []
        self.uploading: set = set()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.person, args=(n,), daemon=True) for n in range(count)]
        self.turn = 0

    def start(self):
        for thread in self.threads:
            thread.start()

    def next_method_and_key(self):
        with self.lock:
            self.turn += 1
            return METHODS[self.turn % len(METHODS)], self.portal.keys[self.turn % len(self.portal.keys)]

    def person(self, number: int):
        while not self.stop.is_set():
            method, key = self.next_method_and_key()
            trace = Trace(method=method, started=time.time())
            with self.lock:
                self.traces.append(trace)
            try:
                self.one_session(trace, key)
            except Exception as error:  # noqa: BLE001 - a benchmark records, it does not stop
                trace.show(f"client error {type(error).__name__}")

    def retrying(self, trace: Trace, what: str, call, ok=lambda r: r.status_code < 400, give_up_after: float = 180):
        """A person pressing "try again" every 2 s while a step fails."""
        deadline = time.time() + give_up_after
        while True:
            try:
                answer = call()
                if ok(answer):
                    return answer
                trace.show(f"{what}: HTTP {answer.status_code} {error_code(answer)}")
            except requests.RequestException as error:
                trace.show(f"{what}: {type(error).__name__}")
            if time.time() > deadline or self.stop.is_set():
                return None
            time.sleep(2)

    def one_session(self, trace: Trace, key: str):
        payload = {"method": trace.method, "external_ref": "chaos"}
        if trace.method in NEEDS_IDENTITY:
            payload.update(realname=REALNAME, idcard=IDCARD)
        created = self.retrying(trace, "create", lambda: requests.post(
            f"{self.portal.url}/api/v1/sessions", json=payload, headers={"Authorization": f"Bearer {key}"}, timeout=30),
            ok=lambda r: r.status_code == 201)
        if created is None:
            return
        trace.session_id, trace.token = created.json()["id"], created.json()["url"].rstrip("/").rsplit("/", 1)[1]
        base = f"{self.portal.url}/v/{trace.token}"
        browser = requests.Session()
        if self.retrying(trace, "consent", lambda: browser.post(f"{base}/consent", timeout=30, allow_redirects=False),
                         ok=lambda r: r.status_code < 400) is None:
            return
        if trace.method == "h5":
            self.hosted(trace, browser, base)
        else:
            self.recorded(trace, browser, base)
        self.wait_for_outcome(trace, browser, base)

    def hosted(self, trace, browser, base):
        start = self.retrying(trace, "start", lambda: browser.post(f"{base}/h5/start", timeout=30, allow_redirects=False),
                              ok=lambda r: "token=" in r.headers.get("Location", ""))
        if start is None:
            return
        vendor_token = start.headers["Location"].split("token=")[1].split("&")[0]
        finished = self.retrying(trace, "vendor page", lambda: browser.post(
            f"{self.portal.vendor_url}/sandbox/jumdata/h5/finish", data={"token": vendor_token, "outcome": "pass"},
            timeout=30, allow_redirects=False), ok=lambda r: "Location" in r.headers)
        if finished is None:
            return
        trace.acknowledged = time.time()  # the vendor has the (billed) check: the portal owes an outcome
        # The vendor sends the browser back; a page that fails is loaded again, as a person reloads it.
        self.retrying(trace, "return", lambda: browser.get(finished.headers["Location"], timeout=30))

    def recorded(self, trace, browser, base):
        if self.retrying(trace, "challenge", lambda: browser.post(f"{base}/challenge", timeout=30)) is None:
            return
        field_name, content, kind = ("photo", self.photo, "image/jpeg") if trace.method == "tencent_photo" else (
            "video", self.clip, "video/mp4")
        if field_name == "video":
            time.sleep(RECORDING_SECONDS)  # the person records; a clip longer than its challenge's age is refused

        def upload():
            marker = object()
            self.uploading.add(marker)
            try:
                return browser.post(f"{base}/{field_name}", files={field_name: (f"upload.{kind[6:]}", content, kind)},
                                    data={"capture": "recorder"}, timeout=60)
            finally:
                self.uploading.discard(marker)

        answer = self.retrying(trace, "upload", upload, ok=lambda r: r.status_code == 202 or r.status_code == 409)
        if answer is not None and answer.status_code == 202:
            trace.acknowledged = time.time()
        elif answer is not None:
            trace.show(f"upload: HTTP 409 {error_code(answer)}")

    def wait_for_outcome(self, trace, browser, base, seconds: float = 180):
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                answer = browser.get(f"{base}/status", timeout=30)
                if answer.status_code != 200:
                    trace.show(f"status: HTTP {answer.status_code}")
                else:
                    state = answer.json()
                    trace.show(f"{state['status']}" + (" (retry offered)" if state.get("retry_allowed") else ""))
                    if state["status"] in FINAL:
                        trace.outcome, trace.outcome_at = state["status"], time.time()
                        trace.retry_allowed = bool(state.get("retry_allowed"))
                        return
            except requests.RequestException as error:
                trace.show(f"status: {type(error).__name__}")
            time.sleep(1)


def error_code(answer) -> str:
    with contextlib.suppress(ValueError, KeyError, TypeError):
        return answer.json()["error"]["code"]
    return ""


# --- watching -----------------------------------------------------------------------


class Readiness(threading.Thread):
    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.timeline, self.stop = url, [], threading.Event()

    def run(self):
        last = None
        while not self.stop.is_set():
            try:
                answer = requests.get(f"{self.url}/readyz", timeout=10)
                failing = {k: v for k, v in answer.json().get("checks", {}).items() if v != "ok"}
                state = "ready" if answer.status_code == 200 else "not ready: " + ", ".join(f"{k} {v}" for k, v in failing.items())
            except (requests.RequestException, ValueError) as error:
                state = f"no answer: {type(error).__name__}"
            if state != last:
                self.timeline.append((time.time(), state))
                last = state
            time.sleep(1)


# --- the faults ---------------------------------------------------------------------


def sending_submissions(database: str) -> list[tuple]:
    import psycopg

    with contextlib.suppress(psycopg.Error), psycopg.connect(database.replace("postgres://", "postgresql://"),
                                                             connect_timeout=3) as connection:
        return connection.execute(
            "SELECT s.id, r.worker_ids FROM verification_submission s JOIN django_tasks_database_dbtaskresult r "
            "ON r.task_path = 'verification.services.recorded.send_submission' AND r.status = 'RUNNING' "
            "AND (r.args_kwargs->'args'->>0)::int = s.id "
            "WHERE s.state = 'sending' AND s.sent_at > now() - interval '500 milliseconds'").fetchall()
    return []


def fault_worker_kill(portal: Portal, context) -> dict:
    deadline = time.time() + 60
    while time.time() < deadline:
        for submission_id, worker_ids in sending_submissions(portal.env["DATABASE_URL"]):
            worker_id = re.sub(r"-\d+$", "", worker_ids[-1])
            process = portal.workers.get(worker_id)
            if process and process.poll() is None:  # claimed within 0.5 s: the call is in flight (--latency)
                process.send_signal(signal.SIGKILL)
                return {"killed": f"task worker {worker_id} (pid {process.pid}) while sending submission {submission_id}"}
        time.sleep(0.05)
    return {"killed": "nothing: no submission was being sent within 60 s"}


def fault_web_kill(portal: Portal, context) -> dict:
    people = context["people"]
    deadline = time.time() + 60
    while time.time() < deadline and not people.uploading:
        time.sleep(0.02)
    victims = portal.web_children()
    if not victims:
        return {"killed": "nothing"}
    victim = random.choice(victims)
    os.kill(victim, signal.SIGKILL)
    return {"killed": f"web process pid {victim} with {len(people.uploading)} upload(s) streaming in"}


def fault_pg_restart(portal, context) -> dict:
    started = time.time()
    context["postgres"].restart()
    return {"restarted": f"PostgreSQL down and back in {time.time() - started:.1f} s"}


def fault_redis_stop(portal, context) -> dict:
    context["redis"].stop()
    time.sleep(30)
    context["redis"].start()
    return {"stopped": "Redis for 30 s"}


def fault_media_full(portal, context) -> dict:
    filler = portal.media / "filler.bin"
    free = shutil.disk_usage(portal.media).free
    with contextlib.suppress(OSError), filler.open("wb") as out:
        block = b"\0" * (1 << 20)
        for _ in range(free // len(block) + 1):
            out.write(block)
    filled_at = time.time()
    people = context["people"]
    # Until an upload fails (or a minute), a while more, then the operator frees room.
    deadline = time.time() + 60
    while time.time() < deadline and not refused_uploads(people, filled_at):
        time.sleep(1)
    time.sleep(10)
    filler.unlink()
    return {"filled": f"media tmpfs filled ({free // (1 << 20)} MB free before), freed after "
                      f"{time.time() - filled_at:.0f} s (the operator's step: free room or grow the volume)",
            "uploads_refused_while_full": refused_uploads(people, filled_at)}


def refused_uploads(people, since: float) -> int:
    return sum(1 for t in list(people.traces) for when, what in list(t.shown) if when > since and what.startswith("upload:"))


def fault_s3_stop(portal, context) -> dict:
    context["s3_proxy"].cut()
    time.sleep(30)
    context["s3_proxy"].mend()
    return {"stopped": "S3 (moto) unreachable for 30 s"}


FAULTS = {
    "worker_kill": fault_worker_kill, "web_kill": fault_web_kill, "pg_restart": fault_pg_restart,
    "redis_stop": fault_redis_stop, "media_full": fault_media_full, "s3_stop": fault_s3_stop,
}


SETTLE = {"worker_kill": 60, "media_full": 30}


def run_faults(portal: Portal, names: list[str], context: dict, warmup: float) -> list[dict]:
    time.sleep(warmup)
    done = []
    for name in names:
        log(f"fault: {name}")
        began = time.time()
        what = FAULTS[name](portal, context)
        ended = time.time()
        log(f"  {what}; settling")
        time.sleep(SETTLE.get(name, SETTLE_SECONDS))
        done.append({"fault": name, "began": began, "ended": ended, **what})
    return done


def drain(people: People, seconds: float = 240) -> None:
    """No new sessions; those under way get their outcome (or give up)."""
    people.stop.set()
    deadline = time.time() + seconds
    for thread in people.threads:
        thread.join(timeout=max(1, deadline - time.time()))


def database_facts(database: str, s3: dict | None, media: Path) -> dict:
    import psycopg

    with psycopg.connect(database.replace("postgres://", "postgresql://")) as connection:
        sessions = {str(row[0]): row[1:] for row in connection.execute(
            "SELECT id, status, retryable, attempts_used FROM verification_verificationsession")}
        submissions = connection.execute(
            "SELECT session_id, state, original FROM verification_submission").fetchall()
        hosted_repeats = connection.execute(
            "SELECT count(*) FROM (SELECT v.id FROM verification_verificationsession v "
            "JOIN verification_vendorcall c ON c.session_id = v.id AND c.billed AND c.endpoint IN ('init', 'result') "
            "GROUP BY v.id, v.attempts_used, c.endpoint HAVING count(*) > v.attempts_used) repeated").fetchone()[0]
    stored = stored_names(s3, media)
    return {"sessions": sessions, "submissions": submissions, "stored": stored, "hosted_billed_repeated": hosted_repeats}


def stored_names(s3: dict | None, media: Path) -> set[str]:
    if not s3:
        return {str(path.relative_to(media)) for path in media.rglob("*") if path.is_file()}
    import boto3

    bucket = boto3.resource("s3", endpoint_url=s3["S3_ENDPOINT_URL"], aws_access_key_id="test",
                            aws_secret_access_key="test", region_name="us-east-1").Bucket(s3["S3_BUCKET"])
    return {item.key for item in bucket.objects.all()}


def vendor_billed_requests(access_log: Path) -> int:
    lines = access_log.read_text(errors="replace").splitlines() if access_log.exists() else []
    return sum(1 for line in lines if '"POST ' in line and any(f"/sandbox{path}" in line for path in BILLED_PATHS))


def percentile(values, share):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(share * (len(values) - 1))))] if values else None


def figures(traces: list[Trace], facts: dict, *, since: float = 0, until: float = float("inf"), fault_at=None) -> dict:
    """The figures over the sessions started in [since, until), and, with
    `fault_at`, every session in flight then or started meanwhile."""
    if fault_at is not None:
        chosen = [t for t in traces if t.session_id and t.started < until
                  and (t.started >= fault_at or t.outcome_at is None or t.outcome_at > fault_at)]
    else:
        chosen = [t for t in traces if t.session_id and since <= t.started < until]
    sessions, stored = facts["sessions"], facts["stored"]
    originals = {}
    for session_id, state, original in facts["submissions"]:
        originals.setdefault(str(session_id), []).append((state, original))
    final = {"passed", "failed", "expired", "cancelled", "error"}
    lost = [t for t in chosen if t.acknowledged and not t.outcome]
    stuck = [t for t in chosen if t.acknowledged and sessions.get(t.session_id, ("?",))[0] not in final]
    abandoned = [t for t in chosen if not t.acknowledged and not t.outcome]
    acknowledged_uploads = [t for t in chosen if t.acknowledged and t.method != "h5"]
    uploads_lost = [t for t in acknowledged_uploads
                    if not any(original and original in stored for _state, original in originals.get(t.session_id, []))]
    waits = [t.outcome_at - (fault_at if fault_at is not None else t.acknowledged or t.started)
             for t in chosen if t.outcome_at and (fault_at is None or t.outcome_at > fault_at)]
    shown = Counter(what for t in chosen for when, what in t.shown
                    if (fault_at is None or when >= fault_at) and when < until + 120)
    outcomes = Counter((t.outcome + (" (retry offered)" if t.retry_allowed else "")) if t.outcome else "none"
                       for t in chosen)
    if fault_at is not None:
        refused = [t for t in traces if not t.session_id and fault_at <= t.started < until]
    else:
        refused = [t for t in traces if not t.session_id and since <= t.started < until]
    return {
        "sessions": len(chosen),
        "could_not_start_a_session": len(refused),
        "lost": len(lost),
        "stuck_after_recovery": len(stuck),
        "abandoned_before_anything_was_accepted": len(abandoned),
        "uploads_acknowledged": len(acknowledged_uploads),
        "uploads_acknowledged_then_lost": len(uploads_lost),
        "outcomes": dict(outcomes),
        ("fault_to_outcome_p50_s" if fault_at else "to_outcome_p50_s"): round(percentile(waits, 0.5), 1) if waits else None,
        ("fault_to_outcome_p99_s" if fault_at else "to_outcome_p99_s"): round(percentile(waits, 0.99), 1) if waits else None,
        "shown": dict(shown.most_common(12)),
    }


def log_lines(folder: Path) -> list[str]:
    pattern = re.compile(r"readyz:|given up|heartbeat not written|answered after|Traceback|ERROR|WORKER TIMEOUT|Worker .* was sent")
    found = []
    for path in sorted((folder / "logs").glob("*.log")):
        if path.name == "vendor-access.log":
            continue
        for line in path.read_text(errors="replace").splitlines():
            if pattern.search(line):
                found.append(f"{path.stem}: {line[:240]}")
    return found


def run_phase(name: str, folder: Path, postgres: PrivatePostgres, redis_server: PrivateRedis, media: Path,
              fault_names: list[str], arguments, clip: bytes, photo: bytes, s3: dict | None = None,
              s3_proxy: CuttableProxy | None = None) -> dict:
    log(f"phase {name}: starting the portal")
    fresh_database(postgres.url)
    portal = start_portal(folder, database=postgres.url, redis_url=redis_server.url, media=media,
                          latency=arguments.latency, s3=s3)
    readiness = Readiness(portal.url)
    people = People(portal, clip, photo, arguments.people)
    context = {"people": people, "postgres": postgres, "redis": redis_server, "s3_proxy": s3_proxy}
    try:
        readiness.start()
        started = time.time()
        people.start()
        faults = run_faults(portal, fault_names, context, warmup=arguments.warmup)
        log(f"phase {name}: draining")
        drain(people)
        time.sleep(2)
        readiness.stop.set()
        facts = database_facts(postgres.url, s3, media)
        traces = list(people.traces)
        vendor_billed = vendor_billed_requests(folder / "logs" / "vendor-access.log")
        sent = sum(1 for _session, state, _original in facts["submissions"] if state in ("answered", "unanswered"))
        report = {
            "phase": name,
            "seconds": round(time.time() - started),
            "total": figures(traces, facts),
            "billed_recorded_calls_at_the_vendor": vendor_billed,
            "submissions_sent": sent,
            "billed_calls_repeated": max(0, vendor_billed - sent) + facts["hosted_billed_repeated"],
            "worker_restarts": [(round(at - started, 1), worker, code) for at, worker, code in portal.restarts],
            "faults": [],
            "readyz": [(round(at - started, 1), state) for at, state in readiness.timeline],
            "log_lines": log_lines(folder),
        }
        for fault in faults:
            window = figures(traces, facts, fault_at=fault["began"], until=fault["ended"])
            report["faults"].append({
                **{k: v for k, v in fault.items() if k not in ("began", "ended")},
                "at_s": round(fault["began"] - started, 1), "lasted_s": round(fault["ended"] - fault["began"], 1),
                "readyz": [(round(at - fault["began"], 1), state) for at, state in readiness.timeline
                           if fault["began"] - 1 <= at <= fault["ended"] + SETTLE.get(fault["fault"], SETTLE_SECONDS)],
                **window,
            })
        return report
    finally:
        people.stop.set()
        portal.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=3, help="people verifying at once, one after another")
    parser.add_argument("--latency", type=float, default=2.0, help="seconds each emulated vendor call takes")
    parser.add_argument("--warmup", type=float, default=20.0)
    parser.add_argument("--only", default="", help="comma-separated faults (default: all)")
    parser.add_argument("--json", default="", help="also write the figures to this file")
    arguments = parser.parse_args()
    chosen = [name for name in FAULTS if not arguments.only or name in arguments.only.split(",")]
    if os.geteuid() != 0 and "media_full" in chosen:
        log("not root: no tmpfs, so the media_full fault is left out")
        chosen.remove("media_full")
    local_faults = [name for name in chosen if name != "s3_stop"]
    began = time.time()
    folder = Path(tempfile.mkdtemp(prefix="kyc-chaos-"))
    os.chmod(folder, 0o755)
    from tests.support.media_samples import make_jpeg, make_video

    clip = Path(make_video(folder / "clip.mp4")).read_bytes()
    photo = make_jpeg()
    postgres, redis_server = PrivatePostgres(folder / "postgres", PG_PORT), PrivateRedis(REDIS_PORT)
    media = folder / "media"
    media.mkdir()
    mounted = False
    moto = proxy = None
    reports = []
    try:
        postgres.start()
        redis_server.start()
        if "media_full" in local_faults:
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128m,mode=0755", "tmpfs", str(media)], check=True)
            mounted = True
        if local_faults:
            reports.append(run_phase("local media", folder / "local", postgres, redis_server, media, local_faults,
                                     arguments, clip, photo))
        if "s3_stop" in chosen:
            moto = subprocess.Popen([PYTHON, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(MOTO_PORT)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_for_port(MOTO_PORT)
            proxy = CuttableProxy(S3_PROXY_PORT, MOTO_PORT)
            proxy.mend()
            s3 = {"S3_BUCKET": "kyc-chaos", "S3_ENDPOINT_URL": f"http://127.0.0.1:{S3_PROXY_PORT}",
                  "S3_ACCESS_KEY_ID": "test", "S3_SECRET_ACCESS_KEY": "test", "S3_REGION": "us-east-1"}
            import boto3

            boto3.client("s3", endpoint_url=s3["S3_ENDPOINT_URL"], aws_access_key_id="test", aws_secret_access_key="test",
                         region_name="us-east-1").create_bucket(Bucket="kyc-chaos")
            reports.append(run_phase("S3 media", folder / "s3", postgres, redis_server, folder / "s3-unused-media",
                                     ["s3_stop"], arguments, clip, photo, s3=s3, s3_proxy=proxy))
    finally:
        if moto:
            moto.terminate()
            moto.wait(10)
        redis_server.stop()
        postgres.stop()
        if mounted:
            subprocess.run(["umount", "-l", str(media)], check=False)
        if os.environ.get("BENCH_KEEP"):
            log(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    summary = {
        "setup": f"{arguments.people} people at once, methods {', '.join(METHODS)} in turn, vendor latency "
                 f"{arguments.latency} s, {WORKERS} task workers x {WORKER_THREADS} threads, gunicorn 2 x 6 threads, "
                 "private PostgreSQL and Redis, 2 cores",
        "minutes": round((time.time() - began) / 60, 1),
        "phases": reports,
    }
    text = json.dumps(summary, indent=2, ensure_ascii=False)
    if arguments.json:
        Path(arguments.json).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
