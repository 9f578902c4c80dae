import re

import pytest
from django.core.management import CommandError, call_command

from verification.models import ApiClient

pytestmark = pytest.mark.django_db


def test_it_prints_the_key_once_and_keeps_only_its_hash(capsys):
    call_command("create_api_client", "shop", "--origin", "https://shop.example/", "--origin", "https://m.shop.example")

    out = capsys.readouterr().out
    key = re.search(r"API key .*: (\S+)", out).group(1)
    client = ApiClient.objects.get(name="shop")
    assert ApiClient.authenticate(key) == client
    assert key not in (client.key_hash, client.key_hint)
    assert client.allowed_origins == ["https://shop.example", "https://m.shop.example"]
    assert "Webhook" not in out


def test_with_a_webhook_url_it_prints_a_standard_webhooks_secret(capsys):
    call_command("create_api_client", "shop", "--webhook-url", "https://shop.example/hooks/kyc")

    secret = re.search(r"Webhook signing secret .*: (\S+)", capsys.readouterr().out).group(1)
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", secret)
    assert ApiClient.objects.get().webhook_secret == secret


@pytest.mark.parametrize("args", [["--origin", "shop.example"], ["--webhook-url", "ftp://x"]])
def test_bad_urls_are_refused(args):
    with pytest.raises(CommandError, match="not an http"):
        call_command("create_api_client", "shop", *args)
    assert not ApiClient.objects.exists()


def test_a_name_in_use_is_refused():
    ApiClient.issue(name="shop")
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_api_client", "shop")
