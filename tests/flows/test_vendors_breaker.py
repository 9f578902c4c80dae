"""The circuit breaker per vendor: its states as a table over every cache
it may live in (a process's own memory, the database table, Redis), and
the breaker around real HTTP calls to a vendor that falls over."""

import json
import time

import pytest
from django.core.cache import cache
from django.core.management import call_command

from tests.conftest import TEST_REDIS_URL as REDIS_URL
from tests.conftest import require_redis
from tests.support.factories import new_session
from verification.models import VendorCall
from verification.services.vendor_calls import recorder_for
from verification.vendors import breaker, jumdata
from verification.vendors.base import CircuitOpen, VendorRejected, VendorResponseError
from verification.vendors.breaker import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    breaker_allows,
    breaker_record,
    breaker_state,
)

pytestmark = pytest.mark.django_db(transaction=True)

CACHES = {
    "locmem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "database": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "kyc_cache_test"},
    "redis": {"BACKEND": "verification.platform.cache.PooledRedisCache", "LOCATION": REDIS_URL},
}
T0 = 1_800_000_000.0


@pytest.fixture(params=sorted(CACHES))
def shared_cache(request, settings):
    if request.param == "redis":
        require_redis()
    settings.CACHES = {"default": CACHES[request.param]}
    if request.param == "database":
        call_command("createcachetable")
    cache.clear()
    settings.VENDOR_BREAKER_FAILURES = 3
    settings.VENDOR_BREAKER_OPEN_SECONDS = 30
    yield request.param
    cache.clear()


def fail(times, *, now=T0):
    for _ in range(times):
        breaker_record("jumdata", failed=True, now=now)


# --- the states ---------------------------------------------------------------------


def test_it_opens_after_the_configured_failures_in_a_row(shared_cache):
    fail(2)
    assert breaker_state("jumdata", now=T0) == CLOSED and breaker_allows("jumdata", now=T0)

    fail(1)

    assert breaker_state("jumdata", now=T0) == OPEN
    assert not breaker_allows("jumdata", now=T0 + 29)


def test_a_success_between_failures_starts_the_count_again(shared_cache):
    fail(2)
    breaker_record("jumdata", failed=False, now=T0)
    fail(2)

    assert breaker_state("jumdata", now=T0) == CLOSED


def test_each_vendor_has_its_own_breaker(shared_cache):
    fail(3)

    assert breaker_state("jumdata", now=T0) == OPEN
    assert breaker_state("tencent", now=T0) == CLOSED and breaker_allows("juhe", now=T0)


def test_after_the_open_period_one_probe_at_a_time_goes_through(shared_cache):
    fail(3)

    assert breaker_state("jumdata", now=T0 + 30) == HALF_OPEN
    assert breaker_allows("jumdata", now=T0 + 30) is True
    assert breaker_allows("jumdata", now=T0 + 31) is False  # a second caller waits for the probe


def test_a_successful_probe_closes_it(shared_cache):
    fail(3)
    assert breaker_allows("jumdata", now=T0 + 30)

    breaker_record("jumdata", failed=False, now=T0 + 30)

    assert breaker_state("jumdata", now=T0 + 30) == CLOSED
    assert breaker_allows("jumdata", now=T0 + 30) and breaker_allows("jumdata", now=T0 + 30)


def test_a_failed_probe_opens_it_for_another_full_period(shared_cache):
    fail(3)
    assert breaker_allows("jumdata", now=T0 + 30)

    breaker_record("jumdata", failed=True, now=T0 + 30)

    assert breaker_state("jumdata", now=T0 + 59) == OPEN
    assert breaker_state("jumdata", now=T0 + 60) == HALF_OPEN


# --- around real calls ------------------------------------------------------------------


def client_for(base_url):
    return jumdata.JumdataClient(base_url=base_url, app_id="sandbox-jumdata-app", app_secret="s", timeout=(2, 5),
                                 recorder=recorder_for(None))


def test_a_vendor_answering_5xx_pages_is_left_alone_then_probed(jumdata_double, settings, monkeypatch):
    settings.VENDOR_BREAKER_FAILURES = 3
    jumdata_double.respond = lambda request: (502, {"Content-Type": "text/html"}, b"<h1>Bad gateway</h1>")
    client = client_for(jumdata_double.url)
    for _ in range(3):
        with pytest.raises(VendorResponseError):
            client.fetch_result(token="t")

    with pytest.raises(CircuitOpen) as refused:
        client.fetch_result(token="t")

    assert len(jumdata_double.requests) == 3  # the fourth was never sent
    assert (refused.value.reached, refused.value.billed) == (False, False)
    assert VendorCall.objects.filter(error__startswith="CircuitOpen").count() == 1

    # Half a minute later one probe goes through; the vendor is back.
    later = time.time() + 31
    monkeypatch.setattr(breaker.time, "time", lambda: later)
    jumdata_double.respond = lambda request: (
        200, {"Content-Type": "application/json"}, json.dumps({"code": 201, "msg": "未查询到检测结果", "taskNo": "1"}).encode()
    )
    assert client.fetch_result(token="t").code == 201
    assert breaker_state("jumdata") == CLOSED


def test_a_vendor_error_code_means_the_vendor_is_working(jumdata_double, settings):
    settings.VENDOR_BREAKER_FAILURES = 2
    jumdata_double.respond = lambda request: (
        200, {"Content-Type": "application/json"}, json.dumps({"code": 609, "msg": "请求过于频繁", "taskNo": "1"}).encode()
    )
    client = client_for(jumdata_double.url)
    for _ in range(3):
        with pytest.raises(VendorRejected):
            client.fetch_result(token="t")

    assert breaker_state("jumdata") == CLOSED and len(jumdata_double.requests) == 3


def test_a_person_starting_while_the_breaker_is_open_is_asked_to_come_back_and_loses_no_attempt(
    client, jumdata_double, settings
):
    settings.VENDOR_BREAKER_FAILURES = 1
    breaker_record("jumdata", failed=True)
    session = new_session(method="h5", external_ref="r", locale="en")
    client.post(f"/v/{session.link_token}/consent")

    client.post(f"/v/{session.link_token}/h5/start")

    assert jumdata_double.requests == []
    session.refresh_from_db()
    assert (session.status, session.reason, session.attempts_used, session.retryable) == ("error", "vendor_unavailable", 0, True)
    assert "tells you when you can try again" in client.get(f"/v/{session.link_token}/").text


def test_without_a_reachable_cache_calls_go_through_and_are_still_recorded(settings, jumdata_double):
    settings.CACHES = {"default": {"BACKEND": "verification.platform.cache.PooledRedisCache",
                                   "LOCATION": "redis://127.0.0.1:9/0"}}
    jumdata_double.respond = lambda request: (502, {"Content-Type": "text/html"}, b"down")

    with pytest.raises(VendorResponseError):
        client_for(jumdata_double.url).fetch_result(token="t")

    assert breaker_allows("jumdata") is True
    assert VendorCall.objects.filter(endpoint="result", http_status=502).count() == 1
