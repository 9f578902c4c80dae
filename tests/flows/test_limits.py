"""Rate limits on the public pages and the API, and attempt limits per ID
number and per address: the request beyond a limit is answered 429 with a
clear message and calls no vendor."""

import json

import pytest
from django.core.cache import cache
from django.test import RequestFactory

from kyc_portal.settings import rate_setting
from tests.support.policy import csp
from tests.support.factories import new_session
from verification.models import VerificationSession
from verification.platform.limits import Rate, client_ip, retry_after

pytestmark = pytest.mark.django_db

VALID_IDCARD = "11010519491231002X"
T0 = 1_800_000_000.0  # a whole minute


def jumdata_init_answer(request):
    body = {"code": 200, "msg": "成功", "taskNo": "1", "charge": True, "data": {"token": "tok"}}
    return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


def consented(browser, **kwargs):
    """A session whose person (the test client `browser`) has consented."""
    session = new_session(**{"method": "h5", "external_ref": "r", "locale": "en", **kwargs})
    browser.post(f"/v/{session.link_token}/consent", REMOTE_ADDR="198.51.100.9")
    return session


# --- counting -------------------------------------------------------------------------


@pytest.mark.parametrize("text, rate", [("30/60", Rate(30, 60)), ("1/1", Rate(1, 1))])
def test_a_rate_is_count_per_seconds(text, rate):
    assert Rate.parse(text) == rate


@pytest.mark.parametrize("text", ["30", "0/60", "30/0", "x/60", "-1/60"])
def test_a_malformed_rate_setting_stops_start_up(text, monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    monkeypatch.setenv("KYC_RATE_TEST", text)
    with pytest.raises(ImproperlyConfigured, match="KYC_RATE_TEST must be 'count/seconds'"):
        rate_setting("KYC_RATE_TEST", "30/60")


def test_within_the_rate_nothing_waits_and_past_it_the_rest_of_the_window_does():
    rate = Rate(2, 60)

    waits = [retry_after("t", "198.51.100.9", rate, now=T0 + 15) for _ in range(3)]

    assert waits == [0, 0, 45]
    assert retry_after("t", "198.51.100.9", rate, now=T0 + 60) == 0  # a new window
    assert retry_after("t", "203.0.113.1", rate, now=T0 + 15) == 0  # another address


def test_the_cache_holds_no_address():
    retry_after("t", "198.51.100.9", Rate(2, 60))

    assert not [key for key in cache._cache if "198.51.100.9" in key]


@pytest.mark.parametrize(
    "proxies, forwarded, expected",
    [
        (0, "203.0.113.7", "10.0.0.2"),  # no proxy trusted: the header is the client's own words
        (1, "203.0.113.7", "203.0.113.7"),
        (1, "6.6.6.6, 203.0.113.7", "203.0.113.7"),  # a forged entry further left is ignored
        (2, "6.6.6.6, 203.0.113.7, 10.0.0.9", "203.0.113.7"),
        (2, "203.0.113.7", "10.0.0.2"),  # fewer entries than proxies: not behind them
    ],
)
def test_the_client_address_is_the_one_the_trusted_proxies_saw(settings, proxies, forwarded, expected):
    settings.KYC_TRUSTED_PROXIES = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)

    assert client_ip(request) == expected


# --- the public pages -------------------------------------------------------------------


def test_an_address_past_the_write_rate_is_asked_to_wait_and_no_vendor_is_called(client, settings, jumdata_double):
    settings.KYC_RATE_PUBLIC_WRITES = "2/60"
    jumdata_double.respond = jumdata_init_answer
    session = consented(client)  # the first write

    client.post(f"/v/{session.link_token}/h5/start", REMOTE_ADDR="198.51.100.9")  # the second
    response = client.post(f"/v/{session.link_token}/h5/start", REMOTE_ADDR="198.51.100.9")

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "Too many requests from your network" in response.text
    assert csp(response)["frame-ancestors"] == ["'none'"]  # still the session's framing
    assert len(jumdata_double.requests) == 1  # only the start within the rate
    other = client.post(f"/v/{session.link_token}/h5/start", REMOTE_ADDR="203.0.113.1")
    assert other.status_code == 302


def test_a_json_step_past_the_read_rate_answers_json(client, settings):
    settings.KYC_RATE_PUBLIC_READS = "1/60"
    session = consented(client)
    client.get(f"/v/{session.link_token}/status", REMOTE_ADDR="198.51.100.9")

    response = client.get(f"/v/{session.link_token}/status", REMOTE_ADDR="198.51.100.9")

    assert response.status_code == 429 and response.json()["error"]["code"] == "rate_limited"


def test_guessing_link_tokens_is_rate_limited_too(client, settings, db):
    settings.KYC_RATE_PUBLIC_READS = "3/60"

    answers = [client.get(f"/v/guess-{n}/", REMOTE_ADDR="198.51.100.9").status_code for n in range(5)]

    assert answers == [404, 404, 404, 429, 429]


def test_guessing_hand_off_codes_is_rate_limited(client, settings, db):
    settings.KYC_RATE_HANDOFF_OPENS = "2/600"

    answers = [client.get(f"/h/abcdefghjk{n}{n}", REMOTE_ADDR="198.51.100.9").status_code for n in range(2, 5)]

    assert answers == [404, 404, 429]


# --- the API ------------------------------------------------------------------------------


def test_an_api_client_past_its_session_rate_is_told_when_to_retry(client, alice, charlie, settings):
    settings.KYC_RATE_API_SESSIONS = "2/60"

    def create(who):
        return client.post(
            "/api/v1/sessions", {"method": "h5", "external_ref": "r"}, content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {who.key}",
        )

    answers = [create(alice) for _ in range(3)]

    assert [a.status_code for a in answers] == [201, 201, 429]
    assert answers[2].json()["error"]["code"] == "rate_limited" and int(answers[2]["Retry-After"]) >= 1
    assert VerificationSession.objects.filter(client=alice).count() == 2
    assert create(charlie).status_code == 201  # each client has its own count


# --- attempts ------------------------------------------------------------------------------


def test_attempts_per_id_number_are_counted_across_sessions_and_clients(client, alice, charlie, settings, jumdata_double):
    settings.KYC_MAX_ATTEMPTS_PER_IDCARD_PER_DAY = 2
    jumdata_double.respond = jumdata_init_answer
    first = consented(client, client=alice, realname="张三", idcard=VALID_IDCARD, attempts_used=1, status="failed", retryable=True)
    second = consented(client, client=charlie, realname="张三", idcard=VALID_IDCARD)
    assert client.post(f"/v/{second.link_token}/h5/start").status_code == 302  # the second attempt today

    response = client.post(f"/v/{first.link_token}/h5/start")

    assert response.status_code == 429
    assert "Too many attempts have been made with this ID number today" in response.text
    assert len(jumdata_double.requests) == 1
    first.refresh_from_db()
    assert (first.status, first.attempts_used) == ("failed", 1)  # nothing changed


def test_attempts_from_one_address_are_limited_per_hour(client, settings, jumdata_double):
    settings.KYC_MAX_ATTEMPTS_PER_IP_PER_HOUR = 2
    jumdata_double.respond = jumdata_init_answer
    sessions = [consented(client) for _ in range(3)]

    answers = [client.post(f"/v/{s.link_token}/h5/start", REMOTE_ADDR="198.51.100.9").status_code for s in sessions]

    assert answers == [302, 302, 429]
    assert len(jumdata_double.requests) == 2
    assert VerificationSession.objects.get(pk=sessions[2].pk).attempts_used == 0


def test_without_a_reachable_cache_nobody_is_limited(settings):
    settings.CACHES = {"default": {"BACKEND": "verification.platform.cache.PooledRedisCache",
                                   "LOCATION": "redis://127.0.0.1:9/0"}}

    assert [retry_after("t", "198.51.100.9", Rate(1, 60)) for _ in range(3)] == [0, 0, 0]


class RacedCache:
    """A cache in which another process acts once, right after our first
    `incr` found no counter."""

    def __init__(self, meanwhile):
        self.values, self.meanwhile = {}, meanwhile

    def incr(self, key):
        if key not in self.values:
            self.meanwhile(self.values, key)
            self.meanwhile = lambda values, key: None
            raise ValueError(f"Key {key!r} not found.")
        self.values[key] += 1
        return self.values[key]

    def add(self, key, value, timeout):
        if key in self.values:
            return False
        self.values[key] = value
        return True


def test_a_counter_another_process_made_mid_count_is_counted_on(monkeypatch):
    from verification.platform import limits

    def made_by_other(values, key):
        values[key] = 1

    monkeypatch.setattr(limits, "cache", RacedCache(made_by_other))

    assert limits.count("k", timeout=60) == 2
    assert limits.count("k", timeout=60) == 3


def test_a_counter_deleted_by_another_process_mid_count_starts_again(monkeypatch):
    """Between two steps another process may delete the key (the breaker
    clears its count when it opens)."""
    from verification.platform import limits

    class DeletedAfterAdd(RacedCache):
        def add(self, key, value, timeout):
            return False  # the other process had made it, then deleted it

    monkeypatch.setattr(limits, "cache", DeletedAfterAdd(lambda values, key: None))

    assert limits.count("k", timeout=60) == 1
