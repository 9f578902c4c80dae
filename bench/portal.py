"""A production-like portal for the benchmarks: gunicorn with
gunicorn.conf.py on loopback (DEBUG off), its own PostgreSQL database, its
own media and temporary folders, optionally task workers, and an API client.
The sandbox vendors answer from a gunicorn of their own, as a real vendor
is another server: were they served by the portal's own threads, a burst of
requests waiting on the vendor would leave no thread to answer as the vendor.
Task workers and the vendors run at nice 10, below the portal's web
processes (in production neither shares the web's cores, or yields them).

    with running_portal(workers=1) as portal:
        portal.api("POST", "/api/v1/sessions", {...})

Every process is stopped and every folder removed on the way out."""

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.http_double import free_port as any_free_port  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
# Dropped and made anew by each run: never DATABASE_URL, which may name a
# database worth keeping. BENCH_DATABASE_URL lets benchmarks run side by side.
DEFAULT_DATABASE = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kyc_bench")
KEY = "A" * 43 + "="
WORKER_NICENESS = 10
VENDOR_THREADS = 32


@dataclass
class Portal:
    url: str
    vendor_url: str
    env: dict
    media: Path
    tmp: Path
    api_key: str = ""
    processes: list = field(default_factory=list)
    roles: dict = field(default_factory=dict)  # pid → "portal", "vendors" or "workers"

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time used so far by the portal's web processes, the vendors,
        the task workers, PostgreSQL and Redis."""
        return cpu_seconds_of(self.roles)

    def api(self, method: str, path: str, payload=None, **kwargs):
        return requests.request(
            method, self.url + path, json=payload, headers={"Authorization": f"Bearer {self.api_key}"}, timeout=30, **kwargs
        )

    def manage(self, *args) -> str:
        done = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def start_workers(self, count: int, *, threads: int = 1) -> None:
        # Below the web processes' priority: on cores they share, a person's
        # page comes before background work (deploy/compose.yaml does the
        # same with CPU shares).
        for _ in range(count):
            self.processes.append(subprocess.Popen(
                ["nice", "-n", str(WORKER_NICENESS), PYTHON, "manage.py", "db_worker", "--interval", "0.2",
                 "--threads", str(threads)],
                cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))
            self.roles[self.processes[-1].pid] = "workers"


_PORT_RANGE = os.environ.get("BENCH_PORTS", "")  # "8160-8169": a shared machine's share
_PORTS_TAKEN: set[int] = set()


def free_port() -> int:
    """A port nothing listens on: the next free one of BENCH_PORTS (a range,
    on a machine shared with other people's servers), else any."""
    if not _PORT_RANGE:
        return any_free_port()
    low, high = (int(n) for n in _PORT_RANGE.split("-"))
    for port in range(low, high + 1):
        if port in _PORTS_TAKEN:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _PORTS_TAKEN.add(port)
        return port
    raise RuntimeError(f"no free port left in BENCH_PORTS={_PORT_RANGE}")


def cpu_seconds_of(roles: dict[int, str]) -> dict[str, float]:
    """CPU seconds of each role: the processes `roles` names and their
    children (a gunicorn master's workers, alive or reaped), the PostgreSQL
    backends of the benchmark's database, and the machine's Redis (shared:
    on a busy machine it counts other people's commands too)."""
    ticks = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            head, _, rest = (entry / "stat").read_text().rpartition(")")
        except OSError:
            continue  # gone meanwhile
        fields = rest.split()
        pid, ppid, name = int(entry.name), int(fields[1]), head.partition("(")[2]
        role = roles.get(pid) or roles.get(ppid) or {"postgres": "postgres", "redis-server": "redis"}.get(name)
        if role == "postgres" and not _serves_bench_database(entry):
            continue  # another database's backend: someone else's on a shared machine
        if role:
            # utime + stime, and those of its children already reaped
            used[role] = used.get(role, 0.0) + sum(int(value) for value in fields[11:15]) / ticks
    return used


_BENCH_DATABASE_NAME = DEFAULT_DATABASE.rpartition("/")[2]


def _serves_bench_database(entry: Path) -> bool:
    """A PostgreSQL backend's title names its database ("postgres: user db
    127.0.0.1(port) idle"); the server's own processes name none."""
    try:
        title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return f" {_BENCH_DATABASE_NAME} " in title


def fresh_database(url: str) -> None:
    """Drops and creates the benchmark's own database."""
    import psycopg

    admin_url, _, name = url.rpartition("/")
    with psycopg.connect(admin_url + "/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


@contextlib.contextmanager
def running_portal(*, workers: int = 0, worker_threads: int = 1, web_processes: int = 2, threads: int = 8,
                   database: str = DEFAULT_DATABASE, extra_env: dict | None = None):
    folder = Path(tempfile.mkdtemp(prefix="kyc-bench-"))
    port, vendor_port = free_port(), free_port()
    vendors = f"http://127.0.0.1:{vendor_port}/sandbox"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("KYC_", "JUMDATA_", "TENCENT_", "JUHE_", "DEBUG"))},
        "DJANGO_SETTINGS_MODULE": "kyc_portal.settings",
        "DEBUG": "0",
        "SECRET_KEY": "benchmark-only-secret-key-" + "x" * 30,
        "KYC_FIELD_KEYS": f"bench:{KEY}",
        "KYC_SEARCH_KEY": KEY,
        "SITE_URL": f"http://127.0.0.1:{port}",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database,
        "MEDIA_ROOT": str(folder / "media"),
        "STATIC_ROOT": str(folder / "static"),
        "TMPDIR": str(folder / "tmp"),
        "PORT": str(port),
        "JUMDATA_BASE_URL": f"{vendors}/jumdata",
        "TENCENT_BASE_URL": f"{vendors}/tencent",
        "JUHE_BASE_URL": f"{vendors}/juhe",
        "WEB_CONCURRENCY": str(web_processes),
        "GUNICORN_THREADS": str(threads),
        "LOG_LEVEL": "WARNING",
        # One client machine makes every request: the per-address limits would measure themselves.
        "KYC_RATE_PUBLIC_WRITES": "1000000/60",
        "KYC_RATE_PUBLIC_READS": "1000000/60",
        "KYC_RATE_API_SESSIONS": "1000000/60",
        "KYC_MAX_ATTEMPTS_PER_IP_PER_HOUR": "1000000",
        "KYC_MAX_ATTEMPTS_PER_IDCARD_PER_DAY": "1000000",
        **(extra_env or {}),
    }
    (folder / "tmp").mkdir()
    portal = Portal(url=f"http://127.0.0.1:{port}", vendor_url=f"http://127.0.0.1:{vendor_port}", env=env, media=folder / "media", tmp=folder / "tmp")
    try:
        fresh_database(database)
        portal.manage("collectstatic", "--noinput", "-v", "0")
        portal.manage("release", "-v", "0")
        created = portal.manage("create_api_client", "bench")
        portal.api_key = re.search(r"API key .*: (\S+)", created).group(1)
        # BENCH_LOG_DIR keeps what the servers print (errors, warnings) for a look afterwards.
        logs = Path(os.environ.get("BENCH_LOG_DIR") or folder)
        logs.mkdir(parents=True, exist_ok=True)
        # A real vendor serves many callers at once, on machines of its own:
        # its threads are not the portal's limit (each emulated call may sleep
        # out SANDBOX_LATENCY_SECONDS), and its decoding yields the cores to
        # the portal's web processes, as the workers' does.
        servers = (("portal", port, threads, 0), ("vendors", vendor_port, VENDOR_THREADS, WORKER_NICENESS))
        for name, server_port, server_threads, niceness in servers:
            portal.processes.append(server := subprocess.Popen(
                ["nice", "-n", str(niceness), GUNICORN, "-c", "gunicorn.conf.py", "--access-logfile", "/dev/null"],
                cwd=ROOT,
                env={**env, "PORT": str(server_port), "GUNICORN_THREADS": str(server_threads)},
                stdout=subprocess.DEVNULL, stderr=(logs / f"{name}.log").open("w"),
            ))
            portal.roles[server.pid] = name
        portal.start_workers(workers, threads=worker_threads)
        for server in (portal.url, f"http://127.0.0.1:{vendor_port}"):
            wait_until_up(server)
        yield portal
    finally:
        stop_processes(portal.processes)
        shutil.rmtree(folder, ignore_errors=True)


def stop_processes(processes, seconds: float = 30) -> None:
    """SIGTERM to all, then each gets `seconds` to finish before a SIGKILL."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_up(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if requests.get(url + "/healthz", timeout=2).ok:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass  # still starting
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not start")
        time.sleep(0.2)


def files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()] if folder.exists() else []
