"""The Redis cache backend breakers and rate limits use, against a real Redis:
Django's behaviour, with one client kept per pool and `incr` in one trip."""

import threading

import pytest
import redis
from django.core.cache import caches

from tests.conftest import TEST_REDIS_URL as REDIS_URL
from tests.conftest import require_redis


@pytest.fixture
def redis_cache(settings):
    require_redis()
    settings.CACHES = {"default": {"BACKEND": "verification.platform.cache.PooledRedisCache", "LOCATION": REDIS_URL}}
    cache = caches["default"]
    cache.clear()
    yield cache
    cache.clear()


def test_incr_of_a_missing_key_raises_and_leaves_it_missing(redis_cache):
    with pytest.raises(ValueError):
        redis_cache.incr("nothing-here")

    assert redis_cache.get("nothing-here") is None


def test_incr_counts_atomically_across_threads(redis_cache):
    redis_cache.add("hits", 0, timeout=60)

    def hammer():
        for _ in range(200):
            redis_cache.incr("hits")

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert redis_cache.get("hits") == 1600
    assert 0 < redis.Redis.from_url(REDIS_URL).ttl(redis_cache.make_key("hits")) <= 60


def test_incr_by_a_delta_and_the_other_operations_behave_as_djangos(redis_cache):
    redis_cache.set("n", 5, timeout=60)
    assert redis_cache.incr("n", 10) == 15
    assert redis_cache.add("n", 1) is False
    redis_cache.set_many({"a": {"nested": [1, 2]}, "b": "text"}, timeout=60)
    assert redis_cache.get_many(["a", "b", "missing"]) == {"a": {"nested": [1, 2]}, "b": "text"}
    redis_cache.delete_many(["a", "n"])
    assert redis_cache.get_many(["a", "b", "n"]) == {"b": "text"}


def test_one_client_serves_every_operation(redis_cache):
    client = redis_cache._cache

    assert client.get_client("a") is client.get_client("b", write=True)


@pytest.mark.django_db
def test_with_redis_unreachable_a_persons_pages_and_status_polls_still_answer(client, settings):
    """Redis down (a restart, a failover): rate limits and breakers let people
    through, and the status poll says the vendor is up rather than failing."""
    from django.utils import timezone

    from tests.support.factories import new_session
    from tests.support.http_double import free_port

    settings.CACHES = {"default": {"BACKEND": "verification.platform.cache.PooledRedisCache",
                                   "LOCATION": f"redis://127.0.0.1:{free_port()}/0"}}
    session = new_session(method="juhe_video", consent_at=timezone.now(), consent_version="test")

    status = client.get(f"/v/{session.link_token}/status")
    page = client.get(f"/v/{session.link_token}/")

    assert status.status_code == 200
    assert status.json()["status"] == "created" and status.json()["vendor_up"] is True
    assert page.status_code == 200
