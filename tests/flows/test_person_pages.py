"""The person on the phone: who is asking (the client's name, logo,
privacy policy and support contact), declining, the language of the pages,
and never a dead end. Through Django's test client; the same in a real
browser is tests/browser/test_person.py."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests.support.factories import new_session
from verification.models import ApiClient, VerificationSession, WebhookMessage

pytestmark = pytest.mark.django_db

S = VerificationSession.Status


@pytest.fixture
def acme(db):
    client, _key = ApiClient.issue(
        name="acme-prod", display_name="Acme Bank", allowed_origins=["https://shop.example"],
        privacy_url="https://acme.example/privacy", support_url="help@acme.example",
        logo_url="https://cdn.acme.example/logo.svg",
    )
    client.set_webhook_url("https://shop.example/kyc-hook")
    return client


def page(client, session, **headers):
    return client.get(f"/v/{session.link_token}/", **headers)


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


# --- who is asking -------------------------------------------------------------------


def test_the_consent_names_the_company_what_is_collected_for_how_long_and_who_sees_it(client, acme, settings):
    settings.KYC_MEDIA_RETENTION_DAYS, settings.KYC_PII_RETENTION_DAYS = 30, 180
    session = new_session(client=acme, method="tencent_idcard", external_ref="r", locale="en",
                          realname="张三", idcard="11010519491231002X")

    response = page(client, session)

    text = text_of(response)
    assert "Acme Bank asks you to confirm that you are a real person" in text
    assert "A short video of your face and your voice." in text
    assert "Your name and ID number, which were given to us for this check, are compared with it." in text
    assert "Video and photos: 30 days." in text and "Name and ID number: 180 days." in text
    assert "腾讯云 Tencent Cloud" in text
    html = response.content.decode()
    assert 'href="https://acme.example/privacy"' in html and "Acme Bank's privacy policy" in html
    assert 'src="https://cdn.acme.example/logo.svg"' in html
    # The logo's address is allowed as an image source on this page, and only here.
    assert "img-src 'self' data: blob: https://cdn.acme.example" in response["Content-Security-Policy"]


def test_the_vendors_named_come_from_the_method(client, acme):
    without_identity = new_session(client=acme, method="h5", external_ref="r", locale="en")
    with_identity = new_session(client=acme, method="h5", external_ref="r", locale="en",
                                realname="张三", idcard="11010519491231002X")

    assert "聚美智数 Jumdata." in text_of(page(client, without_identity))
    assert "Tencent" not in text_of(page(client, without_identity))
    assert "聚美智数 Jumdata, 腾讯云 Tencent Cloud." in text_of(page(client, with_identity))


def test_the_consent_in_chinese(client, acme):
    session = new_session(client=acme, method="juhe_video", external_ref="r", locale="zh-hans")

    text = text_of(page(client, session))

    assert "Acme Bank 请您" in text and "聚合数据 Juhe" in text and "隐私政策" in text


def test_a_client_without_a_display_name_is_named_by_its_name_and_without_links(client, charlie):
    session = new_session(client=charlie, method="h5", external_ref="r", locale="en")

    response = page(client, session)

    assert "charlie asks you" in text_of(response)
    assert "privacy-link" not in response.content.decode()


def test_a_demo_session_without_a_client_still_explains(client):
    session = new_session(method="h5", external_ref="demo", locale="en")

    assert "To confirm that you are a real person" in text_of(page(client, session))


def test_create_api_client_takes_the_name_and_links_shown_to_people(capsys):
    call_command("create_api_client", "acme-prod", "--display-name", "Acme Bank", "--privacy-url",
                 "https://acme.example/privacy", "--support-url", "https://acme.example/help")

    client = ApiClient.objects.get(name="acme-prod")
    assert (client.display_name, client.privacy_url, client.support_url) == (
        "Acme Bank", "https://acme.example/privacy", "https://acme.example/help")
    assert "Shown to people as: Acme Bank" in capsys.readouterr().out


@pytest.mark.parametrize("args, problem", [
    (["--privacy-url", "javascript:alert(1)"], "--privacy-url: not a web address"),
    (["--privacy-url", "http://acme.example/privacy"], "--privacy-url: must be an https address"),
    (["--support-url", "call us"], "--support-url: neither a web address"),
    (["--support-url", "javascript://x"], "--support-url: not a web address"),
    (["--logo-url", "data:image/svg+xml,<svg/>"], "--logo-url: not a web address"),
])
def test_links_that_are_not_https_addresses_are_refused(args, problem):
    with pytest.raises(CommandError, match=re.escape(problem)):
        call_command("create_api_client", "acme-prod", *args)
    assert not ApiClient.objects.filter(name="acme-prod").exists()


def staff(username, group=None):
    user = User.objects.create_user(username, password="pw-" + username * 3, is_staff=True)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


def test_a_supervisor_edits_what_people_are_shown_and_nothing_else(client, acme):
    client.force_login(staff("sam", "supervisors"))
    url = f"/admin/verification/apiclient/{acme.pk}/change/"

    form = client.get(url).content.decode()
    assert 'name="display_name"' in form and 'name="support_url"' in form
    assert 'name="webhook_url"' not in form and 'name="allowed_origins"' not in form

    response = client.post(url, {"display_name": "Acme", "logo_url": "", "privacy_url": "https://acme.example/p",
                                 "support_url": "https://acme.example/help", "webhook_url": "https://evil.example",
                                 "keys-TOTAL_FORMS": "0", "keys-INITIAL_FORMS": "0"})
    assert response.status_code == 302
    acme.refresh_from_db()
    assert (acme.display_name, acme.privacy_url, acme.support_url) == (
        "Acme", "https://acme.example/p", "https://acme.example/help")
    assert acme.webhook_url == "https://shop.example/kyc-hook"


def test_a_supervisor_cannot_store_a_script_link(client, acme):
    client.force_login(staff("sam", "supervisors"))

    response = client.post(f"/admin/verification/apiclient/{acme.pk}/change/", {
        "display_name": "Acme", "privacy_url": "javascript:alert(1)", "support_url": "x",
        "keys-TOTAL_FORMS": "0", "keys-INITIAL_FORMS": "0"})

    assert response.status_code == 200
    acme.refresh_from_db()
    assert acme.privacy_url == "https://acme.example/privacy"


def test_a_reviewer_sees_but_cannot_edit(client, acme):
    client.force_login(staff("rita", "reviewers"))
    url = f"/admin/verification/apiclient/{acme.pk}/change/"

    assert 'name="display_name"' not in client.get(url).content.decode()
    client.post(url, {"display_name": "Mallory Bank", "keys-TOTAL_FORMS": "0", "keys-INITIAL_FORMS": "0"})
    acme.refresh_from_db()
    assert acme.display_name == "Acme Bank"


def test_failure_and_expiry_pages_name_the_company_and_its_support(client, acme):
    failed = new_session(client=acme, method="h5", external_ref="r", locale="en", status=S.FAILED,
                         reason="not_live", retryable=False, consent_at=timezone.now())
    expired = new_session(client=acme, method="h5", external_ref="r", locale="en",
                          expires_at=timezone.now() - timedelta(minutes=1))

    for session in (failed, expired):
        response = page(client, session)
        assert "Contact Acme Bank:" in text_of(response)
        assert 'href="mailto:help@acme.example"' in response.content.decode()


def test_the_expired_link_page_never_links_to_itself(client, acme):
    expired = new_session(client=acme, method="h5", external_ref="r", locale="en",
                          expires_at=timezone.now() - timedelta(minutes=1))

    response = page(client, expired)
    refused = client.post(f"/v/{expired.link_token}/consent")

    assert response.status_code == 410 and refused.status_code == 410
    for answer in (response, refused):
        html = answer.content.decode()
        assert f'href="/v/{expired.link_token}/"' not in html and "back-link" not in html


# --- declining -----------------------------------------------------------------------


def test_declining_cancels_tells_the_integrator_and_the_embedding_page_and_says_where_to_go(client, acme):
    session = new_session(client=acme, method="h5", external_ref="r", locale="en",
                          return_url="https://shop.example/done")

    response = client.post(f"/v/{session.link_token}/decline")

    assert response.status_code == 302 and response["Location"].endswith("?after=declined")
    session.refresh_from_db()
    assert (session.status, session.reason, session.passed) == (S.CANCELLED, "declined", None)
    (message,) = WebhookMessage.objects.all()
    assert (message.payload["data"]["status"], message.payload["data"]["reason"]) == ("cancelled", "declined")
    after = client.get(response["Location"])
    text = text_of(after)
    assert "You declined" in text and "Go back to the app you came from" in text
    assert "Contact Acme Bank:" in text
    assert 'id="return-link" href="https://shop.example/done?session_id=' in after.content.decode()
    assert '"type": "cancelled", "reason": "declined"' in after.content.decode()


def test_declining_in_chinese(client, acme):
    session = new_session(client=acme, method="h5", external_ref="r", locale="zh-hans")

    client.post(f"/v/{session.link_token}/decline")

    assert "您已拒绝" in text_of(page(client, session))


def test_a_get_to_decline_does_nothing(client, acme):
    session = new_session(client=acme, method="h5", external_ref="r")

    assert client.get(f"/v/{session.link_token}/decline").status_code == 405
    session.refresh_from_db()
    assert session.status == S.CREATED and not WebhookMessage.objects.exists()


@pytest.mark.parametrize("status", [S.PASSED, S.CANCELLED, S.PROCESSING])
def test_a_finished_or_checked_session_cannot_be_declined(client, acme, status):
    session = new_session(client=acme, method="h5", external_ref="r", status=status, passed=status == S.PASSED)

    response = client.post(f"/v/{session.link_token}/decline")

    assert response.status_code == 409
    session.refresh_from_db()
    assert session.status == status and not WebhookMessage.objects.exists()


def test_a_wrong_token_declines_nothing(client, acme):
    session = new_session(client=acme, method="h5", external_ref="r")

    assert client.post(f"/v/{session.link_token}x/decline").status_code == 404
    session.refresh_from_db()
    assert session.status == S.CREATED


def test_after_declining_no_step_goes_on(client, acme):
    session = new_session(client=acme, method="h5", external_ref="r")
    client.post(f"/v/{session.link_token}/decline")

    client.post(f"/v/{session.link_token}/consent")
    started = client.post(f"/v/{session.link_token}/h5/start")

    session.refresh_from_db()
    assert session.status == S.CANCELLED and started.status_code in (403, 409)


# --- language ------------------------------------------------------------------------


@pytest.mark.parametrize("accept, lang, words", [
    ("en-US,en;q=0.9", "en", "Identity verification"),
    ("zh-CN,zh;q=0.9", "zh-hans", "身份核验"),
    ("fr-FR,fr;q=0.9", "zh-hans", "身份核验"),
])
def test_a_session_without_a_locale_follows_the_browser(client, acme, accept, lang, words):
    session = new_session(client=acme, method="h5", external_ref="r")

    response = page(client, session, HTTP_ACCEPT_LANGUAGE=accept)

    assert f'<html lang="{lang}">' in response.content.decode() and words in text_of(response)


def test_the_api_locale_wins_over_the_browser(client, acme):
    session = new_session(client=acme, method="h5", external_ref="r", locale="zh-hans")

    assert "身份核验" in text_of(page(client, session, HTTP_ACCEPT_LANGUAGE="en"))


def test_the_api_stores_no_locale_when_none_is_given(client, acme):
    created = client.post("/api/v1/sessions", {"method": "h5", "external_ref": "r"}, content_type="application/json",
                          HTTP_AUTHORIZATION=f"Bearer {ApiClient.issue(name='other')[1]}")

    assert VerificationSession.objects.get(pk=created.json()["id"]).locale == ""


def test_the_switch_keeps_the_person_on_their_page_and_is_remembered(client, acme):
    session = new_session(client=acme, method="h5", external_ref="r", locale="zh-hans")
    here = f"/v/{session.link_token}/"
    assert 'value="en"' in page(client, session).content.decode()

    response = client.post(f"/v/{session.link_token}/language", {"language": "en", "next": here})

    assert response.status_code == 302 and response["Location"] == here
    assert "Identity verification" in text_of(page(client, session, HTTP_ACCEPT_LANGUAGE="zh-CN"))
    assert client.get(f"/v/{session.link_token}/status").json()["message"] == "Ready to start."


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/v/", "/v/other-token/", "/admin/"])
def test_the_switch_never_sends_the_person_elsewhere(client, acme, next_url):
    session = new_session(client=acme, method="h5", external_ref="r")

    response = client.post(f"/v/{session.link_token}/language", {"language": "en", "next": next_url})

    assert response["Location"] == f"/v/{session.link_token}/"


def test_the_switch_ignores_an_unknown_language_and_get_writes_nothing(client, acme):
    session = new_session(client=acme, method="h5", external_ref="r", locale="en")

    client.post(f"/v/{session.link_token}/language", {"language": "fr"})
    assert client.get(f"/v/{session.link_token}/language?language=zh-hans").status_code == 405

    session.refresh_from_db()
    assert session.locale == "en"


def test_pages_of_no_session_switch_too(client):
    response = client.get("/v/no-such-token/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 404 and 'action="/i18n/setlang/"' in response.content.decode()
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/v/no-such-token/"})
    assert "链接" in text_of(client.get("/v/no-such-token/", HTTP_ACCEPT_LANGUAGE="en"))


# --- no dead ends --------------------------------------------------------------------


def test_an_outage_says_the_page_keeps_checking_and_the_status_says_when_it_is_back(client, acme, settings):
    from verification.vendors.breaker import breaker_record

    settings.VENDOR_BREAKER_FAILURES = 1
    session = new_session(client=acme, method="h5", external_ref="r", locale="en", status=S.ERROR,
                          reason="vendor_unavailable", retryable=True, attempts_used=0, consent_at=timezone.now())
    breaker_record("jumdata", failed=True)

    html = page(client, session).content.decode()
    assert "This page keeps checking and tells you when you can try again." in html
    assert 'data-watch="true"' in html and "js/outage.js" in html
    assert client.get(f"/v/{session.link_token}/status").json()["vendor_up"] is False
    breaker_record("jumdata", failed=False)
    assert client.get(f"/v/{session.link_token}/status").json()["vendor_up"] is True


def test_while_a_result_is_fetched_through_an_outage_the_page_says_it_follows(client, acme):
    session = new_session(client=acme, method="h5", external_ref="r", locale="en", status=S.PROCESSING,
                          reason="vendor_unavailable", consent_at=timezone.now())

    assert "We keep asking it for your result; this page updates by itself." in text_of(page(client, session))


def test_a_failed_recorded_attempt_says_how_many_attempts_are_left(client, acme):
    session = new_session(client=acme, method="juhe_video", external_ref="r", locale="en", status=S.FAILED,
                          reason="not_live", retryable=True, attempts_used=1, max_attempts=3,
                          consent_at=timezone.now())

    assert "2 attempts left." in text_of(page(client, session))


def test_pages_of_a_session_are_never_stored_and_reload_from_the_back_forward_cache(client, acme):
    session = new_session(client=acme, method="h5", external_ref="r", locale="en")

    response = page(client, session)

    assert "no-store" in response["Cache-Control"]
    assert "js/fresh.js" in response.content.decode()
