"""The person on a phone (390×844), in a real headless Chromium, in both
languages: who is asking, declining, switching language mid-flow, the back
button after passing, an expired link, an outage. Jumdata is played by the
portal's own sandbox.

Set BROWSER_SCREENSHOT_DIR to keep the screenshots (person-*.png)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

import tests.support.browser as browser_support
from tests.support.browser import chromium, press, screenshot, wait
from tests.support.factories import new_session
from verification.models import ApiClient, VerificationSession, WebhookMessage
from verification.vendors.breaker import breaker_record

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844, "pixelRatio": 1.0}
ACCEPT = {"en": "en-US,en", "zh-hans": "zh-CN,zh"}
# What each language's pages say, for the checks below.
SAYS = {
    "en": {"asks": "Acme Bank asks you", "policy": "Acme Bank's privacy policy", "declined": "You declined",
           "start": "Start the liveness check", "verified": "You are verified", "expired": "Link expired",
           "contact": "Contact Acme Bank:", "switch": "中文", "outage": "This page keeps checking",
           "back_up": "The service is answering again."},
    "zh-hans": {"asks": "Acme Bank 请您", "policy": "Acme Bank 的隐私政策", "declined": "您已拒绝",
                "start": "开始活体检测", "verified": "核验通过", "expired": "链接已过期",
                "contact": "请联系 Acme Bank：", "switch": "English", "outage": "本页面会持续检查",
                "back_up": "服务已恢复。"},
}
OTHER = {"en": "zh-hans", "zh-hans": "en"}


def phone(monkeypatch, language):
    """A 390×844 phone whose browser asks for `language` first."""
    monkeypatch.setattr(browser_support, "PHONE_METRICS", PHONE)
    return chromium(extra_args=("--window-size=390,844",), prefs={"intl.accept_languages": ACCEPT[language]})


@pytest.fixture(params=["en", "zh-hans"])
def language(request):
    return request.param


@pytest.fixture
def person(monkeypatch, language):
    driver = phone(monkeypatch, language)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def acme(db):
    client, _key = ApiClient.issue(
        name="acme-prod", display_name="Acme Bank", privacy_url="https://acme.example/privacy",
        support_url="help@acme.example",
    )
    client.set_webhook_url("https://acme.example/kyc-hook")
    return client


def text(driver) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def shows(driver, words, seconds=None):
    wait(driver, seconds).until(lambda d: words in text(d))


def open_session(driver, sandbox, session):
    driver.get(f"{sandbox.url}/v/{session.link_token}/")
    wait(driver).until(lambda d: d.execute_script("return document.readyState") == "complete")


def test_the_consent_names_the_company_and_its_policy_and_the_person_can_decline(sandbox, person, acme, language):
    session = new_session(client=acme, method="h5", external_ref="r")  # no locale: the browser's language
    open_session(person, sandbox, session)

    says = SAYS[language]
    assert person.find_element(By.TAG_NAME, "html").get_attribute("lang") == language
    assert says["asks"] in text(person)
    assert "聚美智数 Jumdata" in person.find_element(By.ID, "consent-vendors").text
    policy = person.find_element(By.ID, "privacy-link")
    assert policy.text == says["policy"] and policy.get_attribute("href") == "https://acme.example/privacy"
    decline = person.find_element(By.ID, "decline-button")
    assert decline.is_displayed() and decline.rect["y"] + decline.rect["height"] <= 844 * 2  # reachable by a scroll
    screenshot(person, f"person-consent-{language}")

    press(person, "decline-button")

    shows(person, says["declined"])
    assert says["contact"] in text(person)
    assert person.find_element(By.ID, "support-link").get_attribute("href") == "mailto:help@acme.example"
    screenshot(person, f"person-declined-{language}")
    session.refresh_from_db()
    assert (session.status, session.reason) == ("cancelled", "declined")
    assert WebhookMessage.objects.get().payload["data"]["reason"] == "declined"


def test_switching_language_mid_flow_keeps_the_person_where_they_are(sandbox, person, acme, language):
    session = new_session(client=acme, method="h5", external_ref="r")
    open_session(person, sandbox, session)
    press(person, "consent-button")
    shows(person, SAYS[language]["start"])
    assert person.find_element(By.ID, "language-switch").text == SAYS[language]["switch"]

    press(person, "language-switch")

    other = OTHER[language]
    shows(person, SAYS[other]["start"])
    assert person.current_url == f"{sandbox.url}/v/{session.link_token}/"
    assert person.find_element(By.TAG_NAME, "html").get_attribute("lang") == other
    assert not person.find_elements(By.ID, "consent-button")
    screenshot(person, f"person-switched-from-{language}")
    session.refresh_from_db()
    assert (session.locale, session.status, session.has_consent) == (other, "created", True)


def test_the_back_button_after_passing_shows_the_result_not_a_stale_step(sandbox, person, acme, language):
    session = new_session(client=acme, method="h5", external_ref="r", locale=language)
    open_session(person, sandbox, session)
    press(person, "consent-button")
    press(person, "start-button")
    wait(person).until(EC.visibility_of_element_located((By.ID, "sandbox-pass")))
    press(person, "sandbox-pass")
    shows(person, SAYS[language]["verified"])

    person.back()  # the vendor's page
    person.back()  # the start step, as it was: it must not come back stale

    wait(person).until(lambda d: d.current_url.startswith(f"{sandbox.url}/v/"))
    shows(person, SAYS[language]["verified"])
    assert not person.find_elements(By.ID, "start-button")
    screenshot(person, f"person-back-after-passing-{language}")


def test_an_expired_link_names_the_company_and_never_links_to_itself(sandbox, person, acme, language):
    session = new_session(client=acme, method="h5", external_ref="r",
                          expires_at=timezone.now() - timedelta(minutes=5))
    open_session(person, sandbox, session)

    shows(person, SAYS[language]["expired"])
    assert SAYS[language]["contact"] in text(person)
    own = f"{sandbox.url}/v/{session.link_token}/"
    links = [a.get_attribute("href") for a in person.find_elements(By.TAG_NAME, "a")]
    assert own not in links and "mailto:help@acme.example" in links
    screenshot(person, f"person-expired-{language}")


def test_an_outage_keeps_checking_and_says_when_to_try_again(sandbox, person, acme, language, settings):
    settings.VENDOR_BREAKER_FAILURES = 1
    settings.KYC_OUTAGE_CHECK_SECONDS = 1
    breaker_record("jumdata", failed=True)
    session = new_session(client=acme, method="h5", external_ref="r", locale=language)
    open_session(person, sandbox, session)
    press(person, "consent-button")

    press(person, "start-button")

    shows(person, SAYS[language]["outage"])
    outage = wait(person).until(EC.visibility_of_element_located((By.ID, "outage")))
    wait(person).until(lambda d: "{time}" not in outage.text and ":" in outage.text)
    screenshot(person, f"person-outage-{language}")
    session.refresh_from_db()
    assert (session.status, session.attempts_used) == ("error", 0)

    breaker_record("jumdata", failed=False)  # the vendor answers again

    shows(person, SAYS[language]["back_up"], seconds=10)
    assert person.switch_to.active_element.get_attribute("id") == "retry-button"
    press(person, "retry-button")
    wait(person).until(EC.visibility_of_element_located((By.ID, "sandbox-pass")))
    assert VerificationSession.objects.get(pk=session.pk).status == "in_progress"


def test_action_checks_mark_each_change_and_the_end_and_never_cover_the_face_guide(sandbox, monkeypatch, tmp_path):
    from tests.support.browser_media import fake_media_args, write_fake_media

    monkeypatch.setattr(browser_support, "PHONE_METRICS", PHONE)
    driver = chromium(extra_args=(*fake_media_args(write_fake_media(tmp_path)), "--window-size=390,844",
                                  "--autoplay-policy=no-user-gesture-required"))
    try:
        session = new_session(method="juhe_video", external_ref="r", locale="en", options={"liveness_type": 2})
        open_session(driver, sandbox, session)
        press(driver, "consent-button")
        wait(driver).until(EC.element_to_be_clickable((By.ID, "camera-button"))).click()
        wait(driver).until(EC.element_to_be_clickable((By.ID, "record-button")))
        actions = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#challenge-actions li")]
        driver.execute_script("window.vibrations = []; navigator.vibrate = (p) => (window.vibrations.push(p), true);")

        driver.find_element(By.ID, "record-button").click()
        wait(driver).until(EC.visibility_of_element_located((By.ID, "action-now")))
        prompt = driver.find_element(By.ID, "action-now").rect
        guide = driver.find_element(By.CSS_SELECTOR, ".rec-oval").rect
        switch_while_recording = driver.find_element(By.ID, "language-switch").is_displayed()
        screenshot(driver, "person-actions-recording")
        wait(driver, 25).until(EC.visibility_of_element_located((By.ID, "upload-button")))

        # No language switch mid-recording (its reload would lose the clip); back once it is over.
        assert not switch_while_recording and driver.find_element(By.ID, "language-switch").is_displayed()

        assert prompt["y"] >= guide["y"] + guide["height"], (prompt, guide)  # under the guide, not over it
        vibrations = driver.execute_script("return window.vibrations")
        assert len(vibrations) == len(actions) + 1 and vibrations[-1] == [120, 80, 120], vibrations
        assert driver.execute_script("return document.getElementById('recorder').dataset.cues") == str(len(actions) + 1)
        assert driver.execute_script("return !!(window.AudioContext || window.webkitAudioContext)")
    finally:
        driver.quit()
