"""An attacker who reads the logs finds no link token, hand-off code, ID
number, name or vendor secret in them.

A production-set portal (DEBUG off, sandbox vendors) is started as a real
server with its real log handlers — gunicorn with gunicorn.conf.py and JSON
lines, and runserver (Django's `django.server` request lines) with plain
lines — beside a task worker; every flow is run through it over HTTP: the
API, an H5 check on the emulated vendor's page (its face image fetched by
the worker), a recorded video check with name and ID number (the vendor's
pictures downloaded), a hand-off link opened, refused steps, an unknown
link, and an admin search by ID number and by name. Then everything any of
the processes wrote is searched for every secret the flows used, in every
form a URL may carry it."""

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, quote_plus, urlsplit

import pytest
import requests

from bench.portal import stop_processes, wait_until_up
from tests.support.http_double import free_port
from tests.support.media_samples import video_bytes
from tests.flows.test_checks import ENCRYPTION_KEYS, VENDOR_PREFIXES

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
NAME, IDCARD = "张三", "11010519491231002X"  # the sandbox vendors' passing identity
ADMIN_PASSWORD = "pw-root-logs-123"
FINAL = {"passed", "failed", "error", "expired"}
TIMEOUT = 30


@pytest.fixture(scope="module")
def static_root(tmp_path_factory):
    """Collected once: with DEBUG off, pages name their files by the manifest."""
    folder = tmp_path_factory.mktemp("static")
    manage(environment(folder.parent / "collect.sqlite3", folder, folder.parent / "media", port=0), "collectstatic",
           "--noinput", "-v", "0")
    return folder


def environment(database, static_root, media, *, port, log_format="json"):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(VENDOR_PREFIXES + ("DEBUG", "DATABASE_URL"))}
    return {
        **clean,
        "DJANGO_SETTINGS_MODULE": "kyc_portal.settings",
        "DEBUG": "0",
        "SECRET_KEY": "a-long-random-production-key-" + "x" * 40,
        "SITE_URL": f"http://127.0.0.1:{port}",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": f"sqlite:///{database}",
        "STATIC_ROOT": str(static_root),
        "MEDIA_ROOT": str(media),
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "LOG_FORMAT": log_format,
        "LOG_LEVEL": "INFO",
        "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD,
        **ENCRYPTION_KEYS,
    }


def manage(env, *args):
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


class RunningPortal:
    """A web server and a task worker of one database, writing their logs
    (stdout and stderr) to files in `folder`."""

    def __init__(self, folder, env, server_command):
        self.folder, self.env = folder, env
        self.url = env["SITE_URL"]
        self.database = Path(env["DATABASE_URL"].removeprefix("sqlite:///"))
        manage(env, "release", "-v", "0")
        manage(env, "createsuperuser", "--noinput", "--username", "root", "--email", "root@example.com")
        created = manage(env, "create_api_client", "logs")
        self.api_key = re.search(r"API key .*: (\S+)", created).group(1)
        self.processes = [
            self.start("server", server_command),
            self.start("worker", [sys.executable, "manage.py", "db_worker", "--interval", "0.2"]),
        ]
        self.wait_until_up()

    def start(self, name, command):
        return subprocess.Popen(command, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
                                stdout=(self.folder / f"{name}.out").open("w"),
                                stderr=(self.folder / f"{name}.err").open("w"))

    def wait_until_up(self):
        try:
            wait_until_up(self.url)
        except RuntimeError as error:
            raise AssertionError(f"{error}:\n{self.logs()}") from None

    def stop(self):
        stop_processes(self.processes)

    def logs(self) -> str:
        return "".join(path.read_text(errors="replace") for path in sorted(self.folder.glob("*.out")) +
                       sorted(self.folder.glob("*.err")))

    def api(self, method, path, payload=None):
        return requests.request(method, self.url + path, json=payload, timeout=TIMEOUT,
                                headers={"Authorization": f"Bearer {self.api_key}"})

    def sandbox_rows(self, query):
        with sqlite3.connect(self.database) as db:
            return db.execute(query).fetchall()


SERVERS = {
    # gunicorn with the deployment's own config file: its access log, JSON lines from Django.
    "gunicorn-json": ("json", lambda port: [GUNICORN, "-c", "gunicorn.conf.py"]),
    # Django's development server: its `django.server` request lines, plain lines.
    "runserver-plain": ("plain", lambda port: [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}",
                                               "--noreload"]),
}


@pytest.fixture(params=sorted(SERVERS))
def portal(request, tmp_path, static_root):
    log_format, command = SERVERS[request.param]
    port = free_port()
    env = environment(tmp_path / "portal.sqlite3", static_root, tmp_path / "media", port=port, log_format=log_format)
    running = RunningPortal(tmp_path, env, command(port))
    running.log_format = log_format
    try:
        yield running
    finally:
        running.stop()


# --- the flows ------------------------------------------------------------------------------


def create_session(portal, method, **fields):
    created = portal.api("POST", "/api/v1/sessions", {"method": method, "external_ref": f"logs-{method}", **fields})
    assert created.status_code == 201, created.text
    body = created.json()
    assert portal.api("GET", f"/api/v1/sessions/{body['id']}").status_code == 200
    return body["id"], urlsplit(body["url"]).path.split("/")[2]


def wait_for_outcome(portal, session_id):
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = portal.api("GET", f"/api/v1/sessions/{session_id}").json()["status"]
        if status in FINAL:
            return status
        time.sleep(0.5)
    raise AssertionError(f"session {session_id} has no outcome:\n{portal.logs()[-3000:]}")


def h5_check(portal, token):
    """Consent, start, the emulated vendor page, "Pass", back to the portal."""
    page = f"{portal.url}/v/{token}/"
    assert requests.post(page + "h5/start", timeout=TIMEOUT).status_code == 403  # refused: no consent yet
    assert requests.get(page + "h5/return", timeout=TIMEOUT).status_code == 409  # refused: not started
    assert requests.post(page + "consent", timeout=TIMEOUT).status_code == 200
    start = requests.post(page + "h5/start", timeout=TIMEOUT, allow_redirects=False)
    assert start.status_code == 302, start.text
    vendor_page = start.headers["Location"]
    vendor_token = vendor_page.split("token=", 1)[1]
    assert requests.get(vendor_page, timeout=TIMEOUT, headers={"Referer": page}).status_code == 200
    back = requests.post(f"{portal.url}/sandbox/jumdata/h5/finish", {"token": vendor_token, "outcome": "pass"},
                         timeout=TIMEOUT, headers={"Referer": vendor_page})
    assert back.status_code == 200 and back.url.startswith(page), back.url
    return vendor_token


def video_check(portal, token):
    """Consent, the challenge, a six-second recording uploaded."""
    page = f"{portal.url}/v/{token}/"
    assert requests.post(page + "consent", timeout=TIMEOUT).status_code == 200
    assert requests.post(page + "challenge", timeout=TIMEOUT, headers={"Referer": page}).status_code == 200
    assert requests.get(page + "challenge", timeout=TIMEOUT, headers={"Referer": page}).status_code == 200
    challenge_shown_ago(portal.database, token, seconds=20)
    uploaded = requests.post(page + "video", files={"video": ("recording.mp4", video_bytes(), "video/mp4")},
                             data={"capture": "recorder"}, timeout=TIMEOUT * 2, headers={"Referer": page})
    assert uploaded.status_code == 202, uploaded.text
    assert requests.get(page + "status", timeout=TIMEOUT, headers={"Referer": page}).status_code == 200


def challenge_shown_ago(database, token, *, seconds):
    """As if the challenge had been on screen a while: a clip cannot be longer
    than the time since its challenge (the server is another process, so its
    own database file is written)."""
    issued = (datetime.now(UTC) - timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(database) as db:
        changed = db.execute("UPDATE verification_verificationsession SET challenge_issued_at = ? WHERE link_token = ?",
                             (issued, token)).rowcount
    assert changed == 1


def hand_off(portal, token):
    made = requests.post(f"{portal.url}/v/{token}/handoff", timeout=TIMEOUT)
    assert made.status_code == 201, made.text
    code = made.json()["url"].rsplit("/", 1)[1]
    opened = requests.get(f"{portal.url}/h/{code}", timeout=TIMEOUT, allow_redirects=False)
    assert opened.status_code == 302
    return code


def admin_searches(portal, *terms):
    """A reviewer logs in and searches the sessions for each term."""
    admin = requests.Session()
    login_url = f"{portal.url}/admin/login/"
    form = admin.get(login_url, timeout=TIMEOUT)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    logged_in = admin.post(login_url, {"username": "root", "password": ADMIN_PASSWORD, "csrfmiddlewaretoken": csrf,
                                       "next": "/admin/"}, headers={"Referer": login_url}, timeout=TIMEOUT)
    assert logged_in.url == f"{portal.url}/admin/", logged_in.url
    pages = [admin.get(f"{portal.url}/admin/verification/verificationsession/", params={"q": term}, timeout=TIMEOUT)
             for term in terms]
    assert all(page.status_code == 200 for page in pages)
    return pages


def forms_of(secret: str) -> set[str]:
    """The secret as it may stand in a log: as is, and as a URL carries it."""
    return {secret, quote(secret), quote_plus(secret), quote(secret, safe=""), secret.lower()}


# --- the test ------------------------------------------------------------------------------


def test_no_log_line_holds_a_token_code_id_number_name_or_vendor_secret(portal):
    h5_id, h5_token = create_session(portal, "h5", realname=NAME, idcard=IDCARD)
    video_id, video_token = create_session(portal, "juhe_video_auth", realname=NAME, idcard=IDCARD)
    vendor_token = h5_check(portal, h5_token)
    video_check(portal, video_token)
    code = hand_off(portal, video_token)
    unknown_token = "Zq8" + h5_token[3:]
    assert requests.get(f"{portal.url}/v/{unknown_token}/", timeout=TIMEOUT).status_code == 404
    assert requests.get(f"{portal.url}/h/{code[::-1]}", timeout=TIMEOUT).status_code == 404
    assert wait_for_outcome(portal, h5_id) == "passed"
    assert wait_for_outcome(portal, video_id) == "passed"
    by_idcard, _, _ = admin_searches(portal, IDCARD, NAME, IDCARD.lower())
    assert "logs-h5" in by_idcard.text and "logs-juhe_video_auth" in by_idcard.text

    # What the vendors handed out: the H5 face image's token, the pictures' names and tokens.
    face_tokens = [row[0] for row in portal.sandbox_rows("SELECT face_token FROM sandbox_jumdatatask")]
    pictures = [part for row in portal.sandbox_rows("SELECT name, token FROM sandbox_juhepicture") for part in row]
    assert face_tokens and pictures
    portal.stop()
    logs = portal.logs()

    # The servers did log each of these requests, with the secrets taken out.
    for line in ('"GET /v/<redacted>/?<redacted> HTTP/1.1" 200', '"GET /h/<redacted> HTTP/1.1" 302',
                 '"POST /v/<redacted>/video HTTP/1.1" 202', "/sandbox/jumdata/face/<redacted>",
                 "/sandbox/juhe/videoAuth/face-store-njb?<redacted>", "/admin/verification/verificationsession/?<redacted>",
                 "Not Found: /v/<redacted>/", "Forbidden: /v/<redacted>/h5/start"):
        assert line in logs, f"{line!r} is not in the logs:\n{logs[-4000:]}"
    secrets = [h5_token, video_token, unknown_token, code, vendor_token, IDCARD, NAME, *face_tokens, *pictures]
    leaks = {secret: form for secret in secrets for form in forms_of(secret) if form in logs}
    assert not leaks, f"in the logs: {leaks}"
    # Every path of a person's link, anywhere in any line, lost its secret.
    assert not re.search(r"/[vh]/(?!<redacted>)[^/\s\"]", logs)
    if portal.log_format == "json":
        django_lines = [line for line in logs.splitlines() if line.startswith("{")]
        assert any(json.loads(line)["logger"] == "django.request" for line in django_lines)
        assert all(json.loads(line)["message"] for line in django_lines)
