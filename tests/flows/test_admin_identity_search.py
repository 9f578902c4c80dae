"""Searching sessions by ID number in the admin, attacked as a reviewer did:
knowing part of a number, they searched every birth date until one found
the session. Only staff who may see identities search by ID number, at most
ADMIN_IDCARD_SEARCHES times, and every search or refusal is audited with
the keyed hash, never the number.

Personas (tests/flows/test_admin.py): rita reviews, sam supervises."""

import logging
from datetime import date, timedelta
from unittest import mock

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from tests.support.factories import new_session
from tests.flows.test_admin import as_user, rita, sam, staff  # noqa: F401  (fixtures)
from verification.models import AuditEntry
from verification.platform import crypto
from verification.platform.idcard import idcard_check_char

pytestmark = pytest.mark.django_db

BIRTH_DATE = "19880229"
IDCARD = "110105" + BIRTH_DATE + "002" + idcard_check_char("110105" + BIRTH_DATE + "002")
CHANGELIST = "admin:verification_verificationsession_changelist"


@pytest.fixture
def session():
    return new_session(
        method="tencent_idcard", external_ref="order-42", realname="张三", idcard=IDCARD, status="passed"
    )


def every_number_born_in(year: int, *, region: str = "110105", sequence: str = "002") -> list[str]:
    """A valid ID number for each day of `year`: what an attacker who knows
    the region and sequence (the old mask showed them) would try."""
    day, numbers = date(year, 1, 1), []
    while day.year == year:
        first17 = region + day.strftime("%Y%m%d") + sequence
        numbers.append(first17 + idcard_check_char(first17))
        day += timedelta(days=1)
    return numbers


def search(client, term, **params):
    return client.get(reverse(CHANGELIST), {"q": term, **params}, HTTP_ACCEPT_LANGUAGE="en")


def stored_audit_rows() -> str:
    """Every audit row as the database holds it, read past the ORM."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {AuditEntry._meta.db_table}")
        return repr(cursor.fetchall())


def assert_nowhere(number: str, *texts: str):
    for text in texts:
        assert number not in text and number[6:14] not in text


# --- a reviewer, without the permission to see identities ---------------------------------


def test_a_reviewer_trying_every_birth_date_finds_nothing(client, rita, session, caplog):
    caplog.set_level(logging.DEBUG)
    guesses = every_number_born_in(1988)
    assert len(guesses) == 366 and IDCARD in guesses
    as_user(client, rita)

    pages = [search(client, guess).text for guess in guesses]

    assert not [guess for guess, page in zip(guesses, pages) if "order-42" in page]
    assert all("needs the permission to see full identities" in page for page in pages)
    refusals = AuditEntry.objects.filter(action="search_refused", actor_name="rita")
    assert refusals.count() == 366 and not AuditEntry.objects.filter(action="search_identity").exists()
    assert refusals.filter(detail=f"no permission; hash {crypto.search_hash(IDCARD)}").count() == 1
    assert_nowhere(IDCARD, stored_audit_rows(), caplog.text)


def test_a_reviewer_still_finds_sessions_by_reference(client, rita, session):
    page = search(as_user(client, rita), "order-42").text
    assert "order-42" in page and "needs the permission" not in page
    assert not AuditEntry.objects.filter(action__startswith="search").exists()


def test_an_id_number_typed_as_a_reference_finds_nothing_either(client, rita, session):
    """The other search fields are exact: an ID number matches none of them."""
    page = search(as_user(client, rita), IDCARD.lower()).text
    assert "order-42" not in page


# --- a supervisor ----------------------------------------------------------------------------


def test_a_supervisor_finds_the_session_and_the_audit_holds_the_hash_not_the_number(client, sam, session, caplog):
    caplog.set_level(logging.DEBUG)

    page = search(as_user(client, sam), IDCARD).text

    assert "order-42" in page
    entry = AuditEntry.objects.get(action="search_identity")
    assert (entry.actor_name, entry.session_ref) == ("sam", None)
    assert entry.detail == f"hash {crypto.search_hash(IDCARD)}; 1 found"
    assert_nowhere(IDCARD, stored_audit_rows(), caplog.text)


def test_a_supervisor_is_cut_off_after_20_searches_until_the_window_has_passed(client, sam, session, caplog):
    caplog.set_level(logging.DEBUG)
    as_user(client, sam)
    misses = [number for number in every_number_born_in(1987)][:20]
    for guess in misses:
        assert "needs the permission" not in search(client, guess).text

    cut_off = search(client, IDCARD).text

    assert "order-42" not in cut_off
    assert "You have searched by ID number 20 times in 15 minutes, the most allowed. Try again in 15 minutes." in cut_off
    searches = AuditEntry.objects.filter(action="search_identity", actor_name="sam")
    assert sorted(searches.values_list("detail", flat=True)) == sorted(
        f"hash {crypto.search_hash(guess)}; 0 found" for guess in misses
    )
    assert AuditEntry.objects.get(action="search_refused").detail == f"rate limit; hash {crypto.search_hash(IDCARD)}"
    assert_nowhere(IDCARD, stored_audit_rows(), caplog.text)

    later = timezone.now() + timedelta(minutes=15, seconds=1)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert "order-42" in search(client, IDCARD).text


def test_the_limit_is_a_setting_and_counts_per_user(client, sam, session, settings):
    settings.ADMIN_IDCARD_SEARCHES = "2/60"
    other_supervisor = staff("sven", "supervisors")
    as_user(client, sam)
    search(client, IDCARD)
    search(client, IDCARD)

    assert "Try again in 1 minutes" in search(client, IDCARD).text
    assert "order-42" in search(as_user(client, other_supervisor), IDCARD).text


def test_an_invalid_id_number_is_neither_searched_nor_counted(client, sam, session):
    wrong_check_character = IDCARD[:17] + ("0" if IDCARD[17] != "0" else "1")

    page = search(as_user(client, sam), wrong_check_character).text

    assert "not a valid ID number" in page and "order-42" not in page
    assert not AuditEntry.objects.filter(action__startswith="search").exists()


def test_the_number_searched_for_stays_out_of_the_session_pages_links(client, sam, session):
    """Django carries the list's query into each session link
    (`_changelist_filters`); an ID number would then sit in that page's
    address, history and Referer."""
    page = search(as_user(client, sam), IDCARD, status__exact="passed").text

    change_url = reverse("admin:verification_verificationsession_change", args=[session.pk])
    links = {part.split('"')[0] for part in page.split('href="')[1:] if part.startswith(change_url)}
    assert links == {change_url + "?_changelist_filters=status__exact%3Dpassed"}
    # Elsewhere only in the search box and in links to this same list (sorting, filters).
    hrefs_with_number = [part.split('"')[0] for part in page.split('href="')[1:] if IDCARD in part.split('"')[0]]
    assert hrefs_with_number and all(href.startswith("?") for href in hrefs_with_number)
    assert page.count(IDCARD) == len(hrefs_with_number) + 1 and f'value="{IDCARD}"' in page
