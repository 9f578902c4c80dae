"""The demo integrator's account at the portal (sandbox/integrator_account.py):
opened and renewed after every migrate through the portal's own commands,
its key and secret kept in the sandbox's table, never in source."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from sandbox import integrator_account
from sandbox.integrator_account import CLIENT_NAME, keep_account, keep_account_after_migrate
from sandbox.models import IntegratorAccount
from verification.models import ApiClient, ApiKey, AuditEntry, KeyRefused

pytestmark = pytest.mark.django_db

WEBHOOKS = "/sandbox/integrator/webhooks"


def migrate():
    call_command("migrate", verbosity=0, stdout=StringIO())


def usable_hints(client):
    return [key.hint for key in client.keys.all() if key.is_usable(timezone.now())]


def test_migrate_opens_the_account_on_a_database_without_one(settings):
    ApiClient.objects.filter(name=CLIENT_NAME).delete()
    IntegratorAccount.objects.all().delete()
    settings.SITE_URL = "http://127.0.0.1:8012"

    migrate()

    account, client = IntegratorAccount.current(), ApiClient.objects.get(name=CLIENT_NAME)
    assert ApiClient.authenticate(account.api_key) == client
    assert account.api_key.startswith("kyc_test_") and usable_hints(client) == [account.api_key[:13]]
    assert (client.allowed_origins, client.webhook_url) == (["http://localhost:8012"], f"http://127.0.0.1:8012{WEBHOOKS}")
    assert (client.webhook_secret, client.webhook_secret_previous) == (account.webhook_secret, "")


def test_the_next_migrate_follows_site_url_and_renews_the_key_and_secret(settings):
    before = IntegratorAccount.current()
    settings.SITE_URL = "http://localhost:8012"

    migrate()

    account, client = IntegratorAccount.current(), ApiClient.objects.get(name=CLIENT_NAME)
    assert (client.allowed_origins, client.webhook_url) == (["http://127.0.0.1:8012"], f"http://localhost:8012{WEBHOOKS}")
    assert ApiClient.authenticate(account.api_key) == client
    with pytest.raises(KeyRefused):  # older keys stop at once
        ApiClient.authenticate(before.api_key)
    assert account.webhook_secret != before.webhook_secret
    assert (client.webhook_secret, client.webhook_secret_previous) == (account.webhook_secret, "")
    # The renewal went through rotate_api_key, so it is in the audit log.
    assert AuditEntry.objects.filter(action=AuditEntry.Action.ROTATE_API_KEY, detail__contains=CLIENT_NAME).exists()


def test_a_client_made_when_the_demo_key_was_published_is_taken_over(settings):
    # Before the sandbox kept its own account the portal kept a client of this
    # name with a key and secret published in the source.
    IntegratorAccount.objects.all().delete()
    client = ApiClient.objects.get(name=CLIENT_NAME)
    client.keys.all().delete()
    published = "kyc_test_sandbox-integrator-key-public-on-purpose"
    ApiKey.objects.create(client=client, key_hash=ApiKey.hash_key(published), hint=published[:13], mode="test")
    client.webhook_url, client.webhook_secret = "", ""
    client.save()

    account = keep_account()

    with pytest.raises(KeyRefused):
        ApiClient.authenticate(published)
    client.refresh_from_db()
    assert ApiClient.authenticate(account.api_key) == client and usable_hints(client) == [account.api_key[:13]]
    assert client.webhook_url == f"{settings.SITE_URL}{WEBHOOKS}"
    assert (client.webhook_secret, client.webhook_secret_previous) == (account.webhook_secret, "")


def test_a_portal_switched_to_live_mode_makes_the_demo_no_key(settings):
    before = IntegratorAccount.current()
    keys = ApiKey.objects.count()
    settings.KYC_VENDOR_MODE, settings.SANDBOX_MODE = "live", False

    keep_account_after_migrate(sender=None)

    assert IntegratorAccount.current() == before and IntegratorAccount.current().api_key == before.api_key
    assert ApiKey.objects.count() == keys and not ApiKey.objects.filter(mode="live").exists()


def test_a_renewal_that_fails_half_way_leaves_the_working_key(monkeypatch):
    before = IntegratorAccount.current()
    real_run = integrator_account.run

    def run(*command):
        if command[0] == "rotate_webhook_secret":  # after the new key was made
            raise CommandError("the database went away")
        return real_run(*command)

    monkeypatch.setattr(integrator_account, "run", run)

    with pytest.raises(CommandError):
        keep_account()

    assert IntegratorAccount.current().api_key == before.api_key
    assert ApiClient.authenticate(before.api_key).name == CLIENT_NAME
