import pytest
from django.core.management import CommandError, call_command

from tests.support.policy import csp
from tests.support.factories import new_session
from verification.models import ApiClient

pytestmark = pytest.mark.django_db


def test_it_replaces_the_origins_and_the_pages_follow(client, alice, capsys):
    session = new_session(client=alice, method="h5", external_ref="r")

    call_command("set_allowed_origins", "alice", "https://shop.example", "https://app.shop.example:8443/")

    assert ApiClient.objects.get(name="alice").allowed_origins == ["https://shop.example", "https://app.shop.example:8443"]
    assert "https://app.shop.example:8443" in capsys.readouterr().out
    page = client.get(f"/v/{session.link_token}/")
    assert csp(page)["frame-ancestors"] == ["https://shop.example", "https://app.shop.example:8443"]


def test_no_origin_means_nobody_may_frame(client, alice):
    call_command("set_allowed_origins", "alice")

    assert ApiClient.objects.get(name="alice").allowed_origins == []


def test_a_bad_origin_changes_nothing(alice):
    with pytest.raises(CommandError, match="not an origin"):
        call_command("set_allowed_origins", "alice", "https://new.example", "https://shop.example/path")

    assert ApiClient.objects.get(name="alice").allowed_origins == ["https://shop.example"]


def test_an_unknown_client_is_refused(db):
    with pytest.raises(CommandError, match="no API client named 'nobody'"):
        call_command("set_allowed_origins", "nobody", "https://shop.example")
