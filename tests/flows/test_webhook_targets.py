"""Webhooks cannot be aimed at the portal's own network (SSRF): the address
rules as a table, URLs refused when they are set, refused again at
delivery, DNS rebinding defeated by connecting to the address that was
checked, and the operator's allow list.

Every test resolves through tests/support/fake_dns.py (no real DNS server is asked)
and connects only to servers of its own on 127.0.0.0/8: the addresses
refused here are never contacted.

Personas: mallory registers (or later re-points) a webhook URL at an
internal address; alice's receiver is an honest one."""

import ipaddress
import re
from datetime import timedelta

import pytest
import requests
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests.support.http_double import HttpDouble
from tests.support.factories import new_session
from tests.flows.test_checks import run_settings
from verification.models.clients import new_webhook_secret
from verification.models import ApiClient, WebhookMessage
from verification.platform.webhook_targets import (
    AllowedPrivateHosts,
    WebhookTargetRefused,
    check_webhook_url,
    delivery_target,
    non_public_kind,
)
from verification.services import webhooks

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def production_rules(settings):
    """DEBUG off (pytest-django's default too) and live mode, unless a test says otherwise."""
    settings.DEBUG = False
    settings.KYC_VENDOR_MODE, settings.SANDBOX_MODE = "live", False
    settings.KYC_WEBHOOK_ALLOWED_PRIVATE_HOSTS = []


# --- the address rules ------------------------------------------------------------------


@pytest.mark.parametrize(
    "address, kind",
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("100.64.0.1", "shared, CGNAT"),
        ("100.127.255.254", "shared, CGNAT"),
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("198.18.0.1", "reserved"),
        ("192.0.2.1", "documentation"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fc00::1", "unique local"),
        ("fd12:3456::1", "unique local"),
        ("fe80::1", "link-local"),
        ("ff02::1", "multicast"),
        ("2001:db8::1", "documentation"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:169.254.169.254", "link-local"),
        ("::ffff:10.0.0.1", "private"),
        ("64:ff9b::a01:203", "private"),  # NAT64 of 10.1.2.3
        ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
        ("::127.0.0.1", "reserved"),  # IPv4-compatible (deprecated)
        # Public:
        ("93.184.215.14", None),
        ("8.8.8.8", None),
        ("100.63.255.255", None),
        ("172.32.0.1", None),
        ("2606:4700:4700::1111", None),
        ("::ffff:8.8.8.8", None),
        ("64:ff9b::808:808", None),  # NAT64 of 8.8.8.8
    ],
)
def test_the_address_table(address, kind):
    assert non_public_kind(ipaddress.ip_address(address)) == kind


def test_the_allow_list_reads_names_addresses_and_ranges():
    allowed = AllowedPrivateHosts.parse(["Hooks.Corp.Internal.", " 10.20.0.0/16", "192.168.1.5", "[fd00::1]", ""])

    assert allowed.allows_name("hooks.corp.internal") and not allowed.allows_name("corp.internal")
    assert allowed.allows_address(ipaddress.ip_address("10.20.3.4"))
    assert allowed.allows_address(ipaddress.ip_address("192.168.1.5"))
    assert allowed.allows_address(ipaddress.ip_address("fd00::1"))
    assert not allowed.allows_address(ipaddress.ip_address("10.21.0.1"))


@pytest.mark.parametrize("entry", ["hooks corp", "http://hooks.corp", "hooks_corp.internal", "10.0.0.0/33"])
def test_a_bad_allow_list_entry_is_refused(entry):
    with pytest.raises(ValueError, match="neither a host name nor an address"):
        AllowedPrivateHosts.parse([entry])


def test_a_bad_allow_list_stops_start_up():
    done = run_settings(SECRET_KEY="k", KYC_WEBHOOK_ALLOWED_PRIVATE_HOSTS="10.0.0.0/8,not a host")
    assert done.returncode != 0
    assert "KYC_WEBHOOK_ALLOWED_PRIVATE_HOSTS is invalid: 'not a host' is neither" in done.stderr


# --- refused when the URL is set ------------------------------------------------------------


@pytest.mark.parametrize(
    "url, reason",
    [
        ("http://127.0.0.1:8000/hooks", "must use https"),
        ("http://shop.example/hooks", "must use https"),
        ("https://127.0.0.1:8443/hooks", "127.0.0.1 (loopback)"),
        ("https://169.254.169.254/latest/meta-data/", "169.254.169.254 (link-local)"),
        ("https://10.1.2.3/hooks", "10.1.2.3 (private)"),
        ("https://100.64.1.2/hooks", "100.64.1.2 (shared, CGNAT)"),
        ("https://0.0.0.0/hooks", "0.0.0.0 (unspecified)"),
        ("https://[::1]/hooks", "::1 (loopback)"),
        ("https://[::ffff:127.0.0.1]/hooks", "::ffff:127.0.0.1 (loopback)"),
        ("https://[fc00::1]/hooks", "fc00::1 (unique local)"),
        ("https://[fe80::1]/hooks", "fe80::1 (link-local)"),
        ("https://224.0.0.1/hooks", "224.0.0.1 (multicast)"),
        ("https://localhost/hooks", "localhost resolves to 127.0.0.1"),
        ("https://internal.mallory.test/hooks", "internal.mallory.test resolves to 10.0.0.7"),
        # One private answer among public ones is enough to refuse.
        ("https://mixed.mallory.test/hooks", "mixed.mallory.test resolves to 192.168.0.10"),
    ],
)
def test_create_api_client_refuses_internal_webhook_urls(fake_dns, url, reason):
    fake_dns.answer("shop.example", ["93.184.215.14"])
    fake_dns.answer("internal.mallory.test", ["10.0.0.7"])
    fake_dns.answer("mixed.mallory.test", ["93.184.215.14", "192.168.0.10"])

    with pytest.raises(CommandError, match="webhook URL refused") as refused:
        call_command("create_api_client", "mallory", "--webhook-url", url)

    assert reason in str(refused.value)
    assert not ApiClient.objects.filter(name="mallory").exists()


@pytest.mark.parametrize("url", ["https://2130706433/hooks", "https://127.1/hooks", "https://0x7f.1/hooks"])
def test_other_spellings_of_127_0_0_1_are_refused_too(url):
    # Django's URLValidator refuses these before; the rules must not rely on it.
    with pytest.raises(WebhookTargetRefused, match=re.escape("resolves to 127.0.0.1 (loopback)")):
        check_webhook_url(url)


def test_an_unresolvable_host_is_refused_at_creation(fake_dns):
    with pytest.raises(CommandError, match="cannot resolve nowhere.shop.test"):
        call_command("create_api_client", "shop", "--webhook-url", "https://nowhere.shop.test/hooks")
    assert not ApiClient.objects.filter(name="shop").exists()


def test_a_public_https_url_is_accepted(fake_dns, capsys):
    fake_dns.answer("hooks.shop.example", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])

    call_command("create_api_client", "shop", "--webhook-url", "https://hooks.shop.example/kyc")

    assert ApiClient.objects.get(name="shop").webhook_url == "https://hooks.shop.example/kyc"


def test_the_allow_list_lets_a_chosen_private_host_through(fake_dns, settings):
    settings.KYC_WEBHOOK_ALLOWED_PRIVATE_HOSTS = ["hooks.corp.internal", "10.20.0.0/16"]
    fake_dns.answer("hooks.corp.internal", ["10.9.9.9"])
    fake_dns.answer("erp.corp.internal", ["10.20.1.2"])
    fake_dns.answer("hr.corp.internal", ["10.30.1.2"])

    for name, url in [("by-name", "https://hooks.corp.internal/kyc"), ("by-range", "https://erp.corp.internal/kyc"),
                      ("by-address", "https://10.20.3.4/kyc")]:
        call_command("create_api_client", name, "--webhook-url", url)
    with pytest.raises(CommandError, match=re.escape("10.30.1.2 (private)")):
        call_command("create_api_client", "not-listed", "--webhook-url", "https://hr.corp.internal/kyc")
    with pytest.raises(CommandError, match="must use https"):
        call_command("create_api_client", "plain", "--webhook-url", "http://hooks.corp.internal/kyc")
    assert set(ApiClient.objects.filter(name__in=["by-name", "by-range", "by-address", "not-listed", "plain"])
               .values_list("name", flat=True)) == {"by-name", "by-range", "by-address"}


def test_with_debug_on_a_developers_own_receiver_is_allowed(settings, fake_dns):
    settings.DEBUG = True
    call_command("create_api_client", "dev", "--webhook-url", "http://127.0.0.1:3000/hooks")
    # The README's example host never resolves (.example): with DEBUG on it need not yet.
    call_command("create_api_client", "Shop app", "--webhook-url", "https://shop.example/kyc-hook")
    assert ApiClient.objects.get(name="dev").webhook_url == "http://127.0.0.1:3000/hooks"
    assert fake_dns.lookups == {}


def test_in_sandbox_mode_only_the_portals_own_origin_is_exempt(settings):
    settings.SITE_URL = "http://127.0.0.1:8000"
    settings.KYC_VENDOR_MODE, settings.SANDBOX_MODE = "sandbox", True

    assert delivery_target("http://127.0.0.1:8000/sandbox/integrator/webhooks").addresses == ("127.0.0.1",)
    for elsewhere in ("http://127.0.0.1:8001/x", "https://127.0.0.1:8000/x", "http://localhost:8000/x"):
        with pytest.raises(WebhookTargetRefused):
            delivery_target(elsewhere)
    settings.KYC_VENDOR_MODE, settings.SANDBOX_MODE = "live", False
    with pytest.raises(WebhookTargetRefused, match="must use https"):
        check_webhook_url("http://127.0.0.1:8000/sandbox/integrator/webhooks")


# --- refused again at delivery ----------------------------------------------------------------


def message_for(client):
    session = new_session(
        client=client, method="h5", external_ref="order-42", status="passed", passed=True, reason="passed",
        completed_at=timezone.now(),
    )
    return webhooks.webhook_enqueue(session=session, event_type="session.completed")


def hooked_client(url, name="mallory"):
    # As if set before these rules existed, or its DNS changed since.
    client, _key = ApiClient.issue(name=name)
    ApiClient.objects.filter(pk=client.pk).update(webhook_url=url, webhook_secret=new_webhook_secret())
    return ApiClient.objects.get(pk=client.pk)


def test_a_host_that_now_resolves_to_loopback_is_refused_at_delivery_for_good(
    fake_dns, trusted_test_ca, django_capture_on_commit_callbacks
):
    # A real receiver listens there: nothing may reach it.
    with HttpDouble(tls=trusted_test_ca.issue_cert("localhost", "hooks.mallory.test")) as internal:
        fake_dns.answer("hooks.mallory.test", ["127.0.0.1"])
        for name, host in [("one", "localhost"), ("two", "hooks.mallory.test")]:
            client = hooked_client(f"https://{host}:{internal.port}/hooks", name=name)
            message = message_for(client)
            with django_capture_on_commit_callbacks(execute=True) as scheduled:
                attempt = webhooks.webhook_deliver(message_id=message.pk)

            assert attempt.http_status is None
            assert re.fullmatch(rf"refused: {re.escape(host)} resolves to 127\.0\.0\.1 \(loopback\); .*",
                                attempt.error)
            message.refresh_from_db()
            assert (message.state, message.attempts, message.next_attempt_at) == ("failed", 1, None)
            assert scheduled == []  # no retry queued
            assert webhooks.webhook_deliver(message_id=message.pk) is None
        assert internal.requests == []


def test_a_host_without_an_answer_now_is_retried(fake_dns):
    message = message_for(hooked_client("https://gone.shop.test/hooks"))

    attempt = webhooks.webhook_deliver(message_id=message.pk)

    assert attempt.error.startswith("cannot resolve gone.shop.test")
    message.refresh_from_db()
    assert message.state == "pending" and message.next_attempt_at > timezone.now() + timedelta(seconds=4)


def test_an_http_url_stored_before_the_rules_is_refused_at_delivery(fake_dns):
    fake_dns.answer("shop.example", ["93.184.215.14"])
    message = message_for(hooked_client("http://shop.example/hooks"))

    attempt = webhooks.webhook_deliver(message_id=message.pk)

    assert attempt.error == "refused: webhook URLs must use https"
    assert WebhookMessage.objects.get(pk=message.pk).state == "failed"


# --- the connection goes to the checked address --------------------------------------------

HOOK_HOST = "hooks.shop.test"


@pytest.fixture
def receivers(trusted_test_ca):
    """alice's receiver on 127.0.0.2 and an internal service on 127.0.0.1 at
    the same port, both with a valid certificate for alice's host name:
    only the address connected to decides which one a request reaches."""
    certificate = trusted_test_ca.issue_cert(HOOK_HOST)
    with HttpDouble(address="127.0.0.2", tls=certificate, host=HOOK_HOST) as receiver:
        with HttpDouble(address="127.0.0.1", port=receiver.port, tls=certificate, host=HOOK_HOST) as internal:
            yield receiver, internal


def test_dns_rebinding_cannot_reach_the_internal_address(fake_dns, receivers, settings):
    receiver, internal = receivers
    # 127.0.0.2 stands for a public address (allowed here, as the test has no
    # other); the second answer, 127.0.0.1, is not allowed.
    settings.KYC_WEBHOOK_ALLOWED_PRIVATE_HOSTS = ["127.0.0.2/32"]
    fake_dns.answer(HOOK_HOST, ["127.0.0.2"], ["127.0.0.1"])
    message = message_for(hooked_client(f"{receiver.url}/hooks", name="alice"))

    attempt = webhooks.webhook_deliver(message_id=message.pk)

    assert (attempt.http_status, attempt.error) == (200, "")
    assert len(receiver.requests) == 1 and internal.requests == []
    assert fake_dns.lookups[HOOK_HOST] == 1  # checked once, never asked again
    # The control: a client that asks DNS again is rebound to the internal service.
    requests.post(f"{receiver.url}/hooks", data=b"{}", timeout=5, verify=settings.KYC_WEBHOOK_CA_BUNDLE)
    assert len(internal.requests) == 1 and fake_dns.lookups[HOOK_HOST] == 2


def test_a_first_answer_that_is_internal_is_refused_before_any_connection(fake_dns, receivers, settings):
    receiver, internal = receivers
    settings.KYC_WEBHOOK_ALLOWED_PRIVATE_HOSTS = ["127.0.0.2/32"]
    fake_dns.answer(HOOK_HOST, ["127.0.0.1"], ["127.0.0.2"])
    message = message_for(hooked_client(f"{receiver.url}/hooks", name="alice"))

    attempt = webhooks.webhook_deliver(message_id=message.pk)

    assert attempt.error.startswith(f"refused: {HOOK_HOST} resolves to 127.0.0.1 (loopback)")
    assert receiver.requests == [] and internal.requests == []


def test_the_pinned_connection_keeps_the_host_name_for_http_and_tls(fake_dns, receivers, settings):
    receiver, _internal = receivers
    settings.KYC_WEBHOOK_ALLOWED_PRIVATE_HOSTS = ["127.0.0.2/32"]
    fake_dns.answer(HOOK_HOST, ["127.0.0.2"])
    fake_dns.answer("other.shop.test", ["127.0.0.2"])

    delivered = webhooks.webhook_deliver(message_id=message_for(hooked_client(f"{receiver.url}/hooks")).pk)
    assert delivered.http_status == 200
    assert receiver.requests[0].headers["Host"] == f"{HOOK_HOST}:{receiver.port}"

    # The same address under a name its certificate does not carry: the
    # certificate is checked against the name, not the address.
    other = hooked_client(f"https://other.shop.test:{receiver.port}/hooks", name="other")
    mismatched = webhooks.webhook_deliver(message_id=message_for(other).pk)
    assert mismatched.http_status is None and "SSLError" in mismatched.error
    assert len(receiver.requests) == 1


def test_an_environment_proxy_is_not_used(fake_dns, receivers, settings, monkeypatch):
    receiver, _internal = receivers
    settings.KYC_WEBHOOK_ALLOWED_PRIVATE_HOSTS = ["127.0.0.2/32"]
    fake_dns.answer(HOOK_HOST, ["127.0.0.2"])
    with HttpDouble() as proxy:
        # A proxy would resolve the host itself, after our check.
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        attempt = webhooks.webhook_deliver(message_id=message_for(hooked_client(f"{receiver.url}/hooks")).pk)
    assert attempt.http_status == 200 and proxy.requests == [] and len(receiver.requests) == 1


def test_several_checked_addresses_are_tried_in_order(fake_dns, receivers, settings):
    """A first address that does not answer falls through to the next
    checked one, as a resolver-backed client would, and no further."""
    receiver, _internal = receivers
    settings.KYC_WEBHOOK_ALLOWED_PRIVATE_HOSTS = ["127.0.0.0/8"]
    fake_dns.answer(HOOK_HOST, ["127.0.0.3", "127.0.0.2"])  # nothing listens on 127.0.0.3

    attempt = webhooks.webhook_deliver(message_id=message_for(hooked_client(f"{receiver.url}/hooks")).pk)

    assert attempt.http_status == 200 and len(receiver.requests) == 1
