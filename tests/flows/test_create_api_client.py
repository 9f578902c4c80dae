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
    (stored,) = client.keys.all()
    assert key not in (stored.key_hash, stored.hint)
    assert client.allowed_origins == ["https://shop.example", "https://m.shop.example"]
    assert "Webhook" not in out


def test_in_sandbox_mode_it_makes_a_test_key(capsys):
    call_command("create_api_client", "shop")

    out = capsys.readouterr().out
    assert re.search(r"API key .*: kyc_test_[\w-]{43}\n", out) and "works only while the portal runs in sandbox" in out
    assert ApiClient.objects.get(name="shop").keys.get().mode == "test"


def test_in_live_mode_it_makes_a_live_key(capsys, settings):
    settings.KYC_VENDOR_MODE, settings.SANDBOX_MODE = "live", False
    call_command("create_api_client", "shop")

    out = capsys.readouterr().out
    key = re.search(r"API key .*: (kyc_live_[\w-]{43})\n", out).group(1)
    assert "works only while the portal runs in live mode" in out
    assert ApiClient.authenticate(key) == ApiClient.objects.get(name="shop")


def test_with_a_webhook_url_it_prints_a_standard_webhooks_secret(capsys, fake_dns):
    fake_dns.answer("shop.example", ["93.184.215.14"])
    call_command("create_api_client", "shop", "--webhook-url", "https://shop.example/hooks/kyc")

    secret = re.search(r"Webhook signing secret .*: (\S+)", capsys.readouterr().out).group(1)
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", secret)
    assert ApiClient.objects.get(name="shop").webhook_secret == secret


@pytest.mark.parametrize(
    "args, problem",
    [
        (["--origin", "shop.example"], "not an origin"),
        (["--origin", "https://shop.example/app"], "not an origin"),
        (["--origin", "https://*.shop.example"], "not an origin"),
        (["--webhook-url", "ftp://x"], "not an http"),
    ],
)
def test_bad_urls_are_refused(args, problem):
    with pytest.raises(CommandError, match=problem):
        call_command("create_api_client", "shop", *args)
    assert not ApiClient.objects.filter(name="shop").exists()


def test_origins_are_kept_in_the_form_browsers_compare(capsys):
    call_command("create_api_client", "shop", "--origin", "HTTPS://Shop.Example:443/", "--origin", "http://localhost:3000")

    assert ApiClient.objects.get(name="shop").allowed_origins == ["https://shop.example", "http://localhost:3000"]


def test_a_name_in_use_is_refused():
    ApiClient.issue(name="shop")
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_api_client", "shop")
