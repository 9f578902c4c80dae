"""The sandbox's emulated vendor trouble: latency on every vendor endpoint,
and outages of a set length (errors for a share of calls, or hangs)."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from sandbox.models import VendorTrouble

pytestmark = pytest.mark.django_db

INIT = "/sandbox/jumdata/lifecheck/h5/v2/init"


def test_every_vendor_endpoint_answers_after_the_configured_latency(client, settings):
    settings.SANDBOX_LATENCY_SECONDS = 0.3

    started = time.monotonic()
    answer = client.post(INIT, {})
    took = time.monotonic() - started

    assert answer.status_code == 200 and answer.json()["code"] == 400  # still the vendor's own checks
    assert took >= 0.3


def test_an_outage_answers_503_pages_for_its_share_of_calls(client):
    client.post("/sandbox/trouble", {"error_rate": "1", "seconds": "60"})

    answer = client.post("/sandbox/tencent/face/livegetfour", {})

    assert answer.status_code == 503 and "text/html" in answer["Content-Type"]
    assert client.get("/sandbox/trouble").json()["error_rate"] == 1.0


def test_a_hanging_vendor_answers_late(client):
    client.post("/sandbox/trouble", {"hang_seconds": "0.4", "seconds": "60"})

    started = time.monotonic()
    client.post("/sandbox/juhe/face_vedio/verify", {})

    assert time.monotonic() - started >= 0.4


def test_an_outage_ends_by_itself(client):
    VendorTrouble.objects.create(pk=1, error_rate=1, until=timezone.now() - timedelta(seconds=1))

    assert client.post(INIT, {}).status_code == 200
    assert client.get("/sandbox/trouble").json() == {"error_rate": 0, "hang_seconds": 0, "until": None}


def test_seconds_zero_ends_it_at_once(client):
    client.post("/sandbox/trouble", {"error_rate": "1", "seconds": "60"})

    client.post("/sandbox/trouble", {"seconds": "0"})

    assert client.post(INIT, {}).status_code == 200


@pytest.mark.parametrize("fields", [{"error_rate": "1.5"}, {"seconds": "-1"}, {"hang_seconds": "x"}, {"seconds": "99999"}])
def test_nonsense_is_refused_and_changes_nothing(client, fields):
    answer = client.post("/sandbox/trouble", fields)

    assert answer.status_code == 400
    assert not VendorTrouble.objects.exists()
