"""/healthz and /readyz, as a load balancer and a container runtime call
them: on any host name, over plain HTTP."""

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.files.storage import default_storage

from tests.conftest import run_due_tasks
from tests.support.http_double import free_port
from verification.platform import health
from verification.platform.health import HEARTBEAT_KEY

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def fresh_fault_memory():
    """What each process last logged of its checks starts clean in each test."""
    health._last_seen.clear()
    yield
    health._last_seen.clear()


def readyz_lines(caplog):
    return [record for record in caplog.records if record.getMessage().startswith("readyz:")]


def test_healthz_answers_on_any_host_and_without_https(client, settings):
    settings.ALLOWED_HOSTS = ["kyc.example.com"]
    settings.SECURE_SSL_REDIRECT = True

    response = client.get("/healthz", HTTP_HOST="10.1.2.3:8000")

    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_is_not_ready_until_a_worker_was_seen(client):
    response = client.get("/readyz", HTTP_HOST="10.1.2.3:8000")

    assert response.status_code == 503
    assert response.json() == {
        "status": "not_ready",
        "checks": {"database": "ok", "cache": "ok", "storage": "ok", "worker": "no task worker seen yet"},
    }


@pytest.mark.django_db(transaction=True)  # the worker closes connections left in a transaction
def test_a_running_worker_makes_the_portal_ready(client):
    run_due_tasks()

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready", "checks": {"database": "ok", "cache": "ok", "storage": "ok", "worker": "ok"},
    }


def test_a_worker_silent_for_over_a_minute_is_reported(client):
    cache.set(HEARTBEAT_KEY, time.time() - 75, timeout=None)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["worker"] == "no task worker seen for 75 s"


def test_storage_that_does_not_answer_is_reported(client, monkeypatch):
    cache.set(HEARTBEAT_KEY, time.time(), timeout=None)

    def unreachable(name):
        raise ConnectionError("no route to the bucket")

    monkeypatch.setattr(default_storage, "exists", unreachable)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": "ok", "cache": "ok", "storage": "unreachable: ConnectionError", "worker": "ok",
    }


# --- faults, with a broken configuration each: one log line per fault ------------------


def test_a_cache_server_that_does_not_answer_makes_the_portal_not_ready_and_is_logged_once(client, settings, caplog):
    cache.set(HEARTBEAT_KEY, time.time(), timeout=None)
    working = settings.CACHES
    settings.CACHES = {"default": {
        "BACKEND": "verification.platform.cache.PooledRedisCache", "LOCATION": f"redis://127.0.0.1:{free_port()}/7",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }}
    caplog.set_level(logging.WARNING, logger="verification.platform.health")

    answers = [client.get("/readyz") for _probe in range(3)]

    assert {answer.status_code for answer in answers} == {503}
    assert answers[0].json()["checks"]["cache"] == "unreachable: ConnectionError"
    assert [(r.levelname, r.getMessage()) for r in readyz_lines(caplog)] == [
        ("ERROR", "readyz: cache unreachable: ConnectionError: not ready"),
        ("ERROR", "readyz: worker cache unreachable: ConnectionError: not ready"),
    ]
    caplog.clear()
    settings.CACHES = working
    cache.set(HEARTBEAT_KEY, time.time(), timeout=None)

    assert client.get("/readyz").status_code == 200
    assert [r.getMessage() for r in readyz_lines(caplog)] == [
        "readyz: cache ok again (was: unreachable: ConnectionError)",
        "readyz: worker ok again (was: cache unreachable: ConnectionError)",
    ]


def test_local_media_storage_without_room_for_an_upload_makes_the_portal_not_ready(client, settings, caplog):
    cache.set(HEARTBEAT_KEY, time.time(), timeout=None)
    settings.KYC_MEDIA_MIN_FREE_BYTES = 1 << 60  # more than any disk has: as a full one
    caplog.set_level(logging.WARNING, logger="verification.platform.health")

    answers = [client.get("/readyz") for _probe in range(2)]

    assert {answer.status_code for answer in answers} == {503}
    assert answers[0].json()["checks"]["storage"].startswith("full: ")
    assert len(readyz_lines(caplog)) == 1 and readyz_lines(caplog)[0].getMessage().startswith("readyz: storage full: ")


def test_a_media_folder_not_made_yet_is_ready_on_the_disk_it_will_be_made_on(client, settings, tmp_path):
    # A new deployment: Django makes MEDIA_ROOT at the first upload.
    cache.set(HEARTBEAT_KEY, time.time(), timeout=None)
    settings.MEDIA_ROOT = str(tmp_path / "media" / "not-yet")
    assert client.get("/readyz").json()["checks"]["storage"] == "ok"

    settings.KYC_MEDIA_MIN_FREE_BYTES = 1 << 60
    assert client.get("/readyz").json()["checks"]["storage"].startswith("full: ")


def test_a_worker_silent_longer_and_longer_is_one_fault_in_the_log(client, caplog):
    caplog.set_level(logging.WARNING)
    for silence in (75, 80, 95):
        cache.set(HEARTBEAT_KEY, time.time() - silence, timeout=None)
        assert client.get("/readyz").status_code == 503

    assert [r.getMessage() for r in readyz_lines(caplog)] == ["readyz: worker no task worker seen for 75 s: not ready"]
    assert not [r for r in caplog.records if r.name == "django.request"]  # not a server error at every probe


def test_a_database_server_that_does_not_answer_makes_the_portal_not_ready_and_is_logged_once(tmp_path):
    """A process configured with a PostgreSQL where none listens (as while
    it restarts): /readyz answers 503, and its log says why, once."""
    probe = (
        "import django, json; django.setup()\n"
        "from django.test import Client\n"
        "answers = [Client().get('/readyz') for _ in range(3)]\n"
        "print(json.dumps([[a.status_code, a.json()] for a in answers]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "kyc_portal.test_settings", "LOG_FORMAT": "plain",
             "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/kyc", "KYC_TEST_MEDIA_ROOT": str(tmp_path)},
    )

    assert done.returncode == 0, done.stderr[-2000:]
    answers = json.loads(done.stdout.splitlines()[-1])
    assert [status for status, _body in answers] == [503, 503, 503]
    assert answers[0][1]["checks"]["database"] == "unreachable: OperationalError"
    database_lines = [line for line in done.stderr.splitlines() if "readyz: database" in line]
    assert len(database_lines) == 1 and "unreachable: OperationalError: not ready" in database_lines[0]
