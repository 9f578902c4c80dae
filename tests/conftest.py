"""Shared fixtures and personas.

alice is an integrator with an API key; charlie is another integrator who
should have no access to alice's sessions."""

import pytest

from tests.browser import browser, chromium_args  # noqa: F401  (fixtures for the browser tests)
from verification.models import ApiClient


@pytest.fixture(autouse=True)
def fresh_cache():
    """Breakers and rate limits live in the cache, which no database
    rollback or flush empties: each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


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
    settings.MEDIA_ROOT = tmp_path / "media"
    return live_server


@pytest.fixture
def jumdata_double(settings):
    """A stand-in Jumdata server the test scripts; see tests/http_double.py."""
    from tests.http_double import HttpDouble

    with HttpDouble() as double:
        settings.JUMDATA_BASE_URL = double.url
        yield double


def pytest_collection_modifyitems(items):
    """Real-browser tests may be re-run twice (pytest-rerunfailures): a
    headless Chromium on a busy machine now and then loses a race with its
    own page loads. A test that fails three times still fails."""
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.flaky(reruns=2))
