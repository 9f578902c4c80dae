"""API keys that know their mode, rotation with a grace period, revocation,
the audit trail, and the migration of keys from before modes.

Personas: alice integrates (a key of the current mode); the sandbox's demo
integrator gets its test key from the portal's commands after every
migrate; mallory holds a key she should not be able to use (a test key
made in sandbox mode against a portal now live, an old or a revoked key)."""

import json
import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from sandbox.integrator_account import CLIENT_NAME, keep_account
from sandbox.models import IntegratorAccount
from tests.support.http_double import HttpDouble
from tests.flows.test_encryption_at_rest import migrate
from verification.models import ApiClient, ApiKey, AuditEntry, KeyRefused, VendorCall, VerificationSession

pytestmark = pytest.mark.django_db

SESSION = {"method": "h5", "external_ref": "order-42"}


def create_session(client, key):
    return client.post("/api/v1/sessions", data=json.dumps(SESSION), content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {key}")


@pytest.fixture
def live_mode(settings):
    settings.KYC_VENDOR_MODE, settings.SANDBOX_MODE = "live", False
    return settings


@pytest.fixture
def vendors(settings):
    """Every vendor pointed at one double, which must hear nothing."""
    with HttpDouble() as double:
        settings.JUMDATA_BASE_URL = settings.TENCENT_BASE_URL = settings.JUHE_BASE_URL = double.url
        yield double


@pytest.fixture
def later(monkeypatch):
    """Moves the clock (the portal reads django.utils.timezone.now) to this
    long after the test began."""
    began = timezone.now()

    def move(**delta):
        monkeypatch.setattr(timezone, "now", lambda: began + timedelta(**delta))

    return move


def rotate(*args):
    out = StringIO()
    call_command("rotate_api_key", *args, stdout=out)
    return re.search(r"New API key \(shown once, keep it secret\): (\S+)", out.getvalue()).group(1), out.getvalue()


# --- keys carry their mode -----------------------------------------------------------------


def test_keys_are_made_in_the_portals_mode_and_say_so(settings):
    _client, test_key = ApiClient.issue(name="sandboxed")
    settings.KYC_VENDOR_MODE, settings.SANDBOX_MODE = "live", False
    _client, live_key = ApiClient.issue(name="live")

    assert re.fullmatch(r"kyc_test_[\w-]{43}", test_key) and re.fullmatch(r"kyc_live_[\w-]{43}", live_key)
    assert ApiKey.objects.get(hint=test_key[:13]).mode == "test"
    assert ApiKey.objects.get(hint=live_key[:13]).mode == "live"


def test_authentication_is_one_indexed_query(alice, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert ApiClient.authenticate(alice.key).name == "alice"
    assert ApiKey._meta.get_field("key_hash").unique  # the index it uses


def test_the_demo_integrators_key_is_a_test_key(db):
    key = IntegratorAccount.current().api_key  # made by the migrate that set up the test database

    assert key.startswith("kyc_test_")
    assert ApiKey.objects.get(key_hash=ApiKey.hash_key(key)).mode == "test"
    assert ApiClient.authenticate(key).name == CLIENT_NAME


def test_mallory_with_a_test_key_made_in_sandbox_mode_gets_nothing_from_a_live_portal(client, live_mode, vendors):
    # The database was first set up in sandbox mode, where the sandbox's demo
    # integrator got its key (mallory copied it from the sandbox's table, or
    # any test key of that time); the portal then switched to live mode.
    key = IntegratorAccount.current().api_key

    response = create_session(client, key)

    assert response.status_code == 401
    assert response.json()["error"] == {
        "code": "wrong_mode",
        "message": "this is a test key; this portal runs in live mode: use a live key (kyc_live_…)",
    }
    assert not VerificationSession.objects.exists() and not VendorCall.objects.exists()
    assert vendors.requests == []


def test_a_live_key_is_refused_in_sandbox_mode(client, live_mode):
    _client, live_key = ApiClient.issue(name="shop")
    live_mode.KYC_VENDOR_MODE, live_mode.SANDBOX_MODE = "sandbox", True

    response = create_session(client, live_key)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "wrong_mode"
    assert "this is a live key; this portal runs in sandbox mode" in response.json()["error"]["message"]
    assert not VerificationSession.objects.exists()


def test_a_live_key_works_in_live_mode(client, live_mode):
    _client, live_key = ApiClient.issue(name="shop")
    assert create_session(client, live_key).status_code == 201


def test_the_mode_stored_wins_over_what_the_key_says(client, live_mode):
    """A key whose text says live but whose row says test (as the migration
    marks keys from before modes) is a test key."""
    shop, live_key = ApiClient.issue(name="shop")
    shop.keys.update(mode="test")

    assert create_session(client, live_key).json()["error"]["code"] == "wrong_mode"


# --- rotation -------------------------------------------------------------------------------


def test_rotation_prints_a_new_key_once_and_the_old_one_works_for_the_grace(client, alice, later):
    new_key, out = rotate("alice", "--grace-hours", "1")

    assert new_key.startswith("kyc_test_") and new_key != alice.key
    assert out.count(new_key) == 1 and "keep working for 1 hour(s)" in out
    assert not ApiKey.objects.filter(key_hash=new_key).exists() and ApiKey.objects.filter(hint=new_key[:13]).exists()
    assert create_session(client, alice.key).status_code == 201  # within the grace
    assert create_session(client, new_key).status_code == 201

    later(minutes=59)
    assert create_session(client, alice.key).status_code == 201

    later(minutes=61)
    response = create_session(client, alice.key)
    assert response.status_code == 401 and response.json()["error"]["code"] == "key_expired"
    assert create_session(client, new_key).status_code == 201
    assert VerificationSession.objects.count() == 4


def test_the_default_grace_is_24_hours(client, alice, later):
    new_key, out = rotate("alice")

    assert "24 hour(s)" in out
    later(hours=23, minutes=59)
    assert create_session(client, alice.key).status_code == 201
    later(hours=24, minutes=1)
    assert create_session(client, alice.key).status_code == 401
    assert create_session(client, new_key).status_code == 201


def test_a_second_rotation_does_not_lengthen_an_old_keys_grace(client, alice, later):
    second, _out = rotate("alice", "--grace-hours", "1")
    third, _out = rotate("alice", "--grace-hours", "48")

    later(hours=2)
    assert create_session(client, alice.key).status_code == 401  # its hour is over
    assert create_session(client, second).status_code == 201  # in the new 48 hours
    assert create_session(client, third).status_code == 201


def test_a_grace_of_zero_stops_the_old_key_at_once(client, alice):
    new_key, out = rotate("alice", "--grace-hours", "0")

    assert "stopped now" in out
    assert create_session(client, alice.key).json()["error"]["code"] == "key_expired"
    assert create_session(client, new_key).status_code == 201


@pytest.mark.parametrize("hours", ["-1", "169"])
def test_a_grace_out_of_range_is_refused_and_changes_nothing(alice, hours):
    with pytest.raises(CommandError, match="0 to 168 hours"):
        call_command("rotate_api_key", "alice", "--grace-hours", hours)
    assert alice.keys.count() == 1 and alice.keys.get().expires_at is None
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("command", ["rotate_api_key", "revoke_api_key"])
def test_an_unknown_client_is_refused(db, command):
    with pytest.raises(CommandError, match="no API client named 'nobody'"):
        call_command(command, "nobody")


def test_rotating_in_live_mode_gives_a_live_key(client, alice, live_mode):
    new_key, _out = rotate("alice")

    assert new_key.startswith("kyc_live_")
    assert create_session(client, new_key).status_code == 201
    assert create_session(client, alice.key).json()["error"]["code"] == "wrong_mode"  # a test key, in its grace


# --- revocation -----------------------------------------------------------------------------


def test_revoke_stops_every_key_at_once_and_a_rotation_brings_a_new_one(client, alice, capsys):
    in_grace, _out = rotate("alice")
    assert create_session(client, in_grace).status_code == 201

    call_command("revoke_api_key", "alice")

    assert "2 key(s) revoked" in capsys.readouterr().out
    for key in (alice.key, in_grace):
        response = create_session(client, key)
        assert response.status_code == 401 and response.json()["error"]["code"] == "key_revoked"
    fresh, _out = rotate("alice", "--grace-hours", "0")
    assert create_session(client, fresh).status_code == 201
    assert create_session(client, in_grace).status_code == 401


def test_another_clients_key_is_untouched(client, alice, charlie):
    call_command("revoke_api_key", "alice")
    assert create_session(client, charlie.key).status_code == 201


def test_rotations_and_revocations_are_audited_without_the_key(alice):
    new_key, _out = rotate("alice", "--grace-hours", "2")
    call_command("revoke_api_key", "alice")

    revoke, rotation = AuditEntry.objects.order_by("-pk")[:2]
    assert (rotation.action, rotation.actor_name) == ("rotate_api_key", "system")
    assert f"client alice (id {alice.pk})" in rotation.detail and new_key[:13] in rotation.detail
    assert "within 2 h" in rotation.detail and "manage.py rotate_api_key as OS user" in rotation.detail
    assert (revoke.action, revoke.actor_name) == ("revoke_api_keys", "system")
    assert "2 key(s) revoked" in revoke.detail and "manage.py revoke_api_key" in revoke.detail
    assert not any(key in entry.detail for entry in (rotation, revoke) for key in (new_key, alice.key))


def test_a_known_key_refused_names_its_client_for_the_log(alice):
    alice.revoke_keys()
    with pytest.raises(KeyRefused) as refused:
        ApiClient.authenticate(alice.key)
    assert (refused.value.code, refused.value.client_id) == ("key_revoked", alice.pk)


def test_after_a_revoke_the_next_migrate_gives_the_demo_integrator_a_working_key(db):
    demo = ApiClient.objects.get(name=CLIENT_NAME)
    before = IntegratorAccount.current().api_key
    call_command("revoke_api_key", CLIENT_NAME, stdout=StringIO())

    keep_account()  # what the next migrate in sandbox mode does

    after = IntegratorAccount.current().api_key
    assert ApiClient.authenticate(after) == demo
    with pytest.raises(KeyRefused):
        ApiClient.authenticate(before)
    assert [key.hint for key in demo.keys.all() if key.is_usable(timezone.now())] == [after[:13]]


# --- the migration of keys from before modes --------------------------------------------------

MIGRATION = ("verification", "0018_api_keys")


@pytest.mark.django_db(transaction=True)
def test_keys_from_before_modes_become_test_keys_and_can_go_back(settings):
    executor = MigrationExecutor(connection)
    previous = executor.loader.get_migration(*MIGRATION).dependencies
    latest = executor.loader.graph.leaf_nodes()
    legacy = "kyc_" + "L" * 43
    old_apps = migrate(previous)
    OldClient = old_apps.get_model("verification", "ApiClient")
    OldClient.objects.create(name="legacy", key_hash=ApiKey.hash_key(legacy), key_hint=legacy[:10])
    OldClient.objects.create(name="other", key_hash=ApiKey.hash_key("kyc_other"), key_hint="kyc_other")

    migrate(latest)

    stored = ApiKey.objects.get(client__name="legacy")
    assert (stored.mode, stored.hint, stored.expires_at, stored.revoked_at) == ("test", legacy[:10], None, None)
    assert ApiClient.authenticate(legacy).name == "legacy"  # sandbox mode
    settings.KYC_VENDOR_MODE, settings.SANDBOX_MODE = "live", False
    with pytest.raises(KeyRefused, match="this is a test key"):
        ApiClient.authenticate(legacy)

    # Back: each client has one key column again, holding its newest key.
    _row, rotated = ApiClient.objects.get(name="legacy").rotate_key(grace=timedelta(hours=1))
    old_apps = migrate(previous)
    back = old_apps.get_model("verification", "ApiClient").objects.get(name="legacy")
    assert (back.key_hash, back.key_hint) == (ApiKey.hash_key(rotated), rotated[:12])
    migrate(latest)


# --- the admin ------------------------------------------------------------------------------


def staff(username, group=None, *permissions):
    from django.contrib.auth.models import Group, Permission, User

    user = User.objects.create_user(username, password=f"pw-{username}-123", is_staff=True)
    if group:
        user.groups.add(Group.objects.get(name=group))
    user.user_permissions.add(*Permission.objects.filter(codename__in=permissions))
    return user


def admin_url(name, client_pk):
    from django.urls import reverse

    return reverse(f"admin:verification_apiclient_{name}", args=[client_pk])


def test_a_supervisor_rotates_a_key_shown_once_on_an_uncached_page(client, alice):
    sam = staff("sam", "supervisors")
    client.force_login(sam)

    page = client.get(admin_url("change", alice.pk)).content.decode()
    assert 'id="rotate-key"' in page and 'id="revoke-keys"' in page and alice.key[:13] in page
    form = client.get(admin_url("rotate_key", alice.pk))
    assert form.status_code == 200 and 'name="grace_hours"' in form.content.decode()
    assert alice.keys.count() == 1  # showing the form changed nothing

    shown = client.post(admin_url("rotate_key", alice.pk), {"grace_hours": "0"})

    assert shown.status_code == 200 and "no-store" in shown["Cache-Control"].split(", ")
    new_key = re.search(r'<code id="new-key">(kyc_test_[\w-]{43})</code>', shown.content.decode()).group(1)
    assert ApiClient.authenticate(new_key) == alice
    with pytest.raises(KeyRefused, match="grace period is over"):
        ApiClient.authenticate(alice.key)
    entry = AuditEntry.objects.get(action="rotate_api_key")
    assert entry.actor == sam and entry.detail.endswith("; admin") and new_key not in entry.detail
    # Never again: not on the client's page, not in the next rotation's form.
    for url in (admin_url("change", alice.pk), admin_url("rotate_key", alice.pk)):
        assert new_key not in client.get(url).content.decode()


def test_a_bad_grace_shows_the_form_again_and_makes_no_key(client, alice):
    client.force_login(staff("sam", "supervisors"))

    response = client.post(admin_url("rotate_key", alice.pk), {"grace_hours": "1000"})

    assert response.status_code == 200 and 'name="grace_hours"' in response.content.decode()
    assert alice.keys.count() == 1 and not AuditEntry.objects.exists()


def test_a_supervisor_revokes_after_confirming(client, alice):
    sam = staff("sam", "supervisors")
    client.force_login(sam)

    confirm = client.get(admin_url("revoke_keys", alice.pk))
    assert confirm.status_code == 200 and 'id="revoke-form"' in confirm.content.decode()
    assert ApiClient.authenticate(alice.key) == alice  # asking changed nothing

    done = client.post(admin_url("revoke_keys", alice.pk))

    assert done.status_code == 302 and done["Location"] == admin_url("change", alice.pk)
    assert create_session(client, alice.key).json()["error"]["code"] == "key_revoked"
    assert AuditEntry.objects.get(action="revoke_api_keys").actor == sam


@pytest.mark.parametrize(
    "who",
    [
        lambda: staff("rita", "reviewers"),
        # oscar may look at clients but was not given manage_api_keys.
        lambda: staff("oscar", None, "view_apiclient", "view_apikey"),
    ],
)
def test_staff_without_the_permission_can_neither_rotate_nor_revoke(client, alice, who):
    user = who()
    client.force_login(user)

    for name in ("rotate_key", "revoke_keys"):
        assert client.get(admin_url(name, alice.pk)).status_code == 403
    assert client.post(admin_url("rotate_key", alice.pk), {"grace_hours": "0"}).status_code == 403
    assert client.post(admin_url("revoke_keys", alice.pk)).status_code == 403

    assert alice.keys.count() == 1 and ApiClient.authenticate(alice.key) == alice
    assert not AuditEntry.objects.exists()
    if user.has_perm("verification.view_apiclient"):
        page = client.get(admin_url("change", alice.pk)).content.decode()
        assert 'id="rotate-key"' not in page and 'id="revoke-keys"' not in page


def test_anonymous_visitors_get_the_login_page(client, alice):
    response = client.post(admin_url("rotate_key", alice.pk), {"grace_hours": "0"})
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert alice.keys.count() == 1
