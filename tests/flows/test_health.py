"""/healthz and /readyz, as a load balancer and a container runtime call
them: on any host name, over plain HTTP."""

import time

import pytest
from django.core.cache import cache
from django.core.files.storage import default_storage

from tests.conftest import run_due_tasks
from verification.platform.health import HEARTBEAT_KEY

pytestmark = pytest.mark.django_db


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
        "checks": {"database": "ok", "storage": "ok", "worker": "no task worker seen yet"},
    }


@pytest.mark.django_db(transaction=True)  # the worker closes connections left in a transaction
def test_a_running_worker_makes_the_portal_ready(client):
    run_due_tasks()

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "storage": "ok", "worker": "ok"}}


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
    assert response.json()["checks"] == {"database": "ok", "storage": "unreachable: ConnectionError", "worker": "ok"}
