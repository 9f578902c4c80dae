"""Shared fixtures and personas.

alice is an integrator with an API key; charlie is another integrator who
should have no access to alice's sessions."""

import os

import pytest

from tests.support.browser import browser, chromium_args  # noqa: F401  (fixtures for the browser tests)
from verification.models import ApiClient


@pytest.fixture(scope="session", autouse=True)
def portal_urls():
    """kyc_portal/urls.py mounts /sandbox/ if SANDBOX_MODE holds when it is
    first imported: import it before any test switches to live mode, so the
    order of the tests does not decide it for the rest of the run."""
    import kyc_portal.urls  # noqa: F401


@pytest.fixture
def client():
    """Django's test client, checking every answer under /api/ against the
    OpenAPI document (tests/support/openapi.py)."""
    from tests.support.openapi import CheckedClient

    return CheckedClient()


@pytest.fixture(autouse=True)
def fresh_cache():
    """Breakers and rate limits live in the cache, which no database
    rollback or flush empties: each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def run_due_tasks() -> None:
    """Runs every queued task that is due, as the worker would, then returns."""
    from django.core.management import call_command

    call_command("db_worker", batch=True, interval=0, startup_delay=False, reload=False, verbosity=0)


TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def require_redis() -> str:
    """The test Redis's URL; a test that needs it is skipped without it,
    except in CI, where it must be there."""
    import redis

    try:
        redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=1).ping()
    except redis.ConnectionError:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is not reachable at {TEST_REDIS_URL}; CI=true, so this is an error")
        pytest.skip(f"Redis is not reachable at {TEST_REDIS_URL}")
    return TEST_REDIS_URL


@pytest.fixture
def calls():
    """A vendor client's recorder that keeps each call's record (no database)."""
    from tests.support.vendor_calls import CallRecords

    return CallRecords()


@pytest.fixture
def alice(db):
    client, key = ApiClient.issue(name="alice", allowed_origins=["https://shop.example"])
    client.key = key
    return client


@pytest.fixture
def charlie(db):
    client, key = ApiClient.issue(name="charlie")
    client.key = key
    return client


@pytest.fixture
def sandbox(live_server, settings, tmp_path):
    """The portal served over real HTTP, every vendor pointed at its own
    sandbox, links built on the live server's address, and stored media in
    a folder of the test's own."""
    settings.SITE_URL = live_server.url
    settings.JUMDATA_BASE_URL = f"{live_server.url}/sandbox/jumdata"
    settings.TENCENT_BASE_URL = f"{live_server.url}/sandbox/tencent"
    settings.JUHE_BASE_URL = f"{live_server.url}/sandbox/juhe"
    # FaceID's SDK posts to "/" of its host: the portal's own, in sandbox mode.
    settings.FACEID_BASE_URL = live_server.url
    settings.FACEID_H5_ORIGIN = live_server.url
    settings.MEDIA_ROOT = tmp_path / "media"
    return live_server


@pytest.fixture
def fake_dns(monkeypatch):
    """The resolver, scripted by the test (tests/support/fake_dns.py)."""
    from tests.support.fake_dns import FakeDns

    return FakeDns(monkeypatch)


@pytest.fixture(scope="session")
def test_ca():
    """A certificate authority of the test run's own (trustme)."""
    import trustme

    return trustme.CA()


@pytest.fixture
def trusted_test_ca(test_ca, settings, tmp_path):
    """Webhook receivers' certificates are checked against the test CA, as
    an operator's KYC_WEBHOOK_CA_BUNDLE would make them."""
    bundle = tmp_path / "webhook-ca.pem"
    test_ca.cert_pem.write_to_path(str(bundle))
    settings.KYC_WEBHOOK_CA_BUNDLE = str(bundle)
    return test_ca


@pytest.fixture
def jumdata_double(settings):
    """A stand-in Jumdata server the test scripts; see tests/support/http_double.py."""
    from tests.support.http_double import HttpDouble

    with HttpDouble() as double:
        settings.JUMDATA_BASE_URL = double.url
        yield double
