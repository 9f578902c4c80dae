"""How long staff stay signed in: ADMIN_SESSION_IDLE_MINUTES (30) without a
request, ADMIN_SESSION_MAX_HOURS (8) after signing in however busy. Time
moves by patching django.utils.timezone.now, which the session store and
the middleware both read; nobody sleeps."""

from contextlib import contextmanager
from datetime import timedelta
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.flows.test_admin import sam  # noqa: F401  (fixture)
from verification.backoffice.admin_sessions import SIGNED_IN_AT

pytestmark = pytest.mark.django_db


@contextmanager
def clock_at(moment):
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


def signed_in(response) -> bool:
    return response.status_code == 200


def sign_in(client, user):
    login = client.post(reverse("admin:login"), {"username": user.username, "password": f"pw-{user.username}-123"})
    assert login.status_code == 302
    return client


def test_an_idle_sign_in_ends_after_30_minutes(client, sam):
    start = timezone.now()
    with clock_at(start):
        sign_in(client, sam)
    index = reverse("admin:index")

    with clock_at(start + timedelta(minutes=29)):
        assert signed_in(client.get(index))
    with clock_at(start + timedelta(minutes=29 + 29)):  # each request moves the end
        assert signed_in(client.get(index))
    with clock_at(start + timedelta(minutes=29 + 29 + 31)):
        response = client.get(index)

    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))


def test_a_busy_sign_in_ends_after_8_hours_and_says_why(client, sam):
    start = timezone.now()
    with clock_at(start):
        sign_in(client, sam)
    index = reverse("admin:index")
    for minutes in range(20, 8 * 60, 20):
        with clock_at(start + timedelta(minutes=minutes)):
            assert signed_in(client.get(index)), minutes

    with clock_at(start + timedelta(hours=8)):
        response = client.get(index, follow=True, HTTP_ACCEPT_LANGUAGE="en")

    assert response.redirect_chain[0][0].startswith(reverse("admin:login"))
    assert "_auth_user_id" not in client.session
    assert "You were signed out: a sign-in lasts at most 8 hours." in response.text


def test_the_limits_are_settings(client, sam, settings):
    settings.ADMIN_SESSION_MAX_HOURS = 1
    start = timezone.now()
    with clock_at(start):
        sign_in(client, sam)
    for minutes in (25, 50, 59):
        with clock_at(start + timedelta(minutes=minutes)):
            assert signed_in(client.get(reverse("admin:index")))
    with clock_at(start + timedelta(minutes=61)):
        assert not signed_in(client.get(reverse("admin:index")))


def test_a_sign_in_with_no_sign_in_time_has_ended(client, sam):
    """Sessions made before the rule carry no time: they end at once."""
    sign_in(client, sam)
    session = client.session
    del session[SIGNED_IN_AT]
    session.save()

    assert not signed_in(client.get(reverse("admin:index")))


def test_a_session_cookie_lives_no_longer_than_the_idle_limit(client, sam, settings):
    response = sign_in(client, sam).get(reverse("admin:index"))
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert int(cookie["max-age"]) == settings.ADMIN_SESSION_IDLE_MINUTES * 60 == 1800
    assert cookie["httponly"]

