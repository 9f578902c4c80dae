"""`manage.py set_webhook_url CLIENT URL`: where a client's session events
go, checked as create_api_client checks it. mallory, an operator's careless
copy-paste or a hostile integrator's request, points it somewhere it must
not go: the cloud metadata service, a private address, plain http."""

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.support.factories import new_session
from verification.services import webhooks
from verification.models import ApiClient

pytestmark = pytest.mark.django_db


def set_url(name, url):
    out = StringIO()
    call_command("set_webhook_url", name, url, stdout=out)
    return out.getvalue()


def enqueued(client):
    session = new_session(client=client, method="h5", external_ref="r")
    return webhooks.webhook_enqueue(session=session, event_type="session.completed")


@pytest.fixture
def shop(fake_dns):
    fake_dns.answer("shop.example", ["93.184.215.14"])
    client, _key = ApiClient.issue(name="shop", webhook_url="https://shop.example/hooks/kyc")
    return client


def test_it_moves_the_webhooks_and_keeps_the_signing_secret(shop, fake_dns):
    fake_dns.answer("hooks.shop.example", ["93.184.215.15"])

    out = set_url("shop", "https://hooks.shop.example/v2")

    client = ApiClient.objects.get(name="shop")
    assert client.webhook_url == "https://hooks.shop.example/v2"
    assert client.webhook_secret == shop.webhook_secret
    assert out == "Webhook URL of shop: https://hooks.shop.example/v2\n"
    assert enqueued(client) is not None


def test_a_client_without_webhooks_gets_a_secret_shown_once(alice, fake_dns):
    fake_dns.answer("shop.example", ["93.184.215.14"])

    out = set_url("alice", "https://shop.example/hooks")

    secret = re.search(r"^Webhook signing secret \(shown once\): (\S+)$", out, re.MULTILINE).group(1)
    client = ApiClient.objects.get(name="alice")
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", secret) and client.webhook_secret == secret
    assert enqueued(client) is not None


def test_an_empty_url_stops_the_webhooks_and_keeps_the_secret(shop):
    out = set_url("shop", "")

    client = ApiClient.objects.get(name="shop")
    assert (client.webhook_url, client.webhook_secret) == ("", shop.webhook_secret)
    assert "no webhooks are sent" in out
    assert enqueued(client) is None


@pytest.mark.parametrize(
    "url, problem",
    [
        ("ftp://shop.example/hooks", "not an http"),
        ("hooks.shop.example", "not an http"),
        ("http://shop.example/hooks", "must use https"),
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://intranet.example/hooks", "private"),
        ("https://nowhere.example/hooks", "cannot resolve"),
    ],
)
def test_a_url_webhooks_must_not_go_to_changes_nothing(shop, fake_dns, url, problem):
    fake_dns.answer("intranet.example", ["10.1.2.3"])

    with pytest.raises(CommandError, match=problem):
        set_url("shop", url)

    client = ApiClient.objects.get(name="shop")
    assert (client.webhook_url, client.webhook_secret) == (shop.webhook_url, shop.webhook_secret)


def test_in_sandbox_mode_the_portals_own_receiver_is_allowed(alice, settings):
    settings.SITE_URL = "http://127.0.0.1:8000"

    set_url("alice", "http://127.0.0.1:8000/sandbox/integrator/webhooks")

    assert ApiClient.objects.get(name="alice").webhook_url == "http://127.0.0.1:8000/sandbox/integrator/webhooks"


def test_an_unknown_client_is_refused(db):
    with pytest.raises(CommandError, match="no API client named 'nobody'"):
        set_url("nobody", "https://shop.example/hooks")
